/** `assay files upload|list|get|download|delete` against any Together-compatible server. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { FileObject } from '../client.js';
import { action, type CliIO } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { bytes, count, table, when } from '../format.js';

function fileRows(file: FileObject): string[][] {
  const rows: string[][] = [
    ['id', file.id],
    ['filename', file.filename ?? ''],
    ['purpose', file.purpose ?? ''],
    ['type', file.FileType ?? ''],
    ['bytes', file.bytes !== undefined ? `${count(file.bytes)} (${bytes(file.bytes)})` : ''],
  ];
  if (typeof file.LineCount === 'number') rows.push(['rows', count(file.LineCount)]);
  rows.push(['created', when(file.created_at)]);
  if (file.processing_status) rows.push(['state', file.processing_status]);
  return rows.filter((r) => r[1] !== '');
}

export function registerFilesCommands(program: Command, io: CliIO): void {
  const files = program
    .command('files')
    .description('upload, list, download and delete files on a Together-compatible server')
    .addHelpText(
      'after',
      `
Examples:
  $ assay files upload data.jsonl
  $ assay files list
  $ assay files download file-1234 -o results.jsonl
  $ assay files list --base-url https://api.together.ai/v1 --api-key $TOGETHER_API_KEY`,
    );

  files
    .command('upload')
    .description('upload a JSONL or CSV dataset')
    .argument('<path>', 'local file to upload')
    .option('--purpose <purpose>', 'file purpose', 'eval')
    .option('--file-name <name>', 'name to record (default: the file name)')
    .option('--direct', 'one multipart POST /files/upload instead of the three-step upload (assay and curl only)')
    .addHelpText(
      'after',
      `
Uses the same three-step upload as Together's SDKs (POST /files, PUT to the signed URL, then
POST /files/{id}/preprocess), so it works against assay and Together alike.

Examples:
  $ assay files upload data.jsonl
  $ assay files upload answers.csv --json | jq -r .id`,
    )
    .action(
      action(io, async (ctx, filePath: string) => {
        const opts = ctx.opts as { purpose: string; fileName?: string; direct?: boolean };
        const file = await ctx.client().files.upload(filePath, {
          purpose: opts.purpose,
          ...(opts.fileName ? { fileName: opts.fileName } : {}),
          ...(opts.direct ? { direct: true } : {}),
        });
        ctx.result(file, () => {
          const rows = typeof file.LineCount === 'number' && file.LineCount > 0 ? `, ${count(file.LineCount)} rows` : '';
          return `${file.id}  ${file.filename ?? path.basename(filePath)} (${bytes(file.bytes ?? 0)}${rows})`;
        });
      }),
    );

  files
    .command('list')
    .alias('ls')
    .description('list uploaded files, newest first')
    .addHelpText('after', '\nExamples:\n  $ assay files list\n  $ assay files list --json | jq -r \'.data[].id\'')
    .action(
      action(io, async (ctx) => {
        const list = await ctx.client().files.list();
        const data = Array.isArray(list.data) ? list.data : [];
        ctx.result(list, () => {
          if (data.length === 0) return 'no files';
          return table(
            data.map((f) => [
              f.id,
              f.filename ?? '',
              f.purpose ?? '',
              typeof f.LineCount === 'number' ? count(f.LineCount) : '',
              bytes(f.bytes ?? 0),
              when(f.created_at),
            ]),
            { header: ['ID', 'FILENAME', 'PURPOSE', 'ROWS', 'SIZE', 'CREATED (UTC)'] },
          );
        });
      }),
    );

  files
    .command('get')
    .alias('retrieve')
    .description("show a file's details")
    .argument('<id>', 'file id')
    .addHelpText('after', '\nExample:\n  $ assay files get file-1234')
    .action(
      action(io, async (ctx, id: string) => {
        const file = await ctx.client().files.get(id);
        ctx.result(file, () => table(fileRows(file)));
      }),
    );

  files
    .command('download')
    .description("download a file's contents (a dataset, or a job's result file)")
    .argument('<id>', 'file id')
    .option('-o, --output <path>', "where to write ('-' for stdout; default: the file's name in this folder)")
    .option('--force', 'overwrite an existing file')
    .addHelpText(
      'after',
      `
Examples:
  $ assay files download file-1234 -o results.jsonl
  $ assay files download file-1234 -o - | head`,
    )
    .action(
      action(io, async (ctx, id: string) => {
        const opts = ctx.opts as { output?: string; force?: boolean };
        const client = ctx.client();
        if (opts.output === '-') {
          if (ctx.json) throw new UsageError('-o - writes the file to stdout, which --json also wants; pick one');
          await client.files.download(id, io.stdout);
          return;
        }
        let dest = opts.output;
        if (dest === undefined) {
          const meta = await client.files.get(id);
          dest = path.basename(meta.filename || `${id}.jsonl`);
        }
        if (!opts.force && fs.existsSync(dest)) {
          throw new CliError(`${dest} already exists`, { hint: 'pass --force to overwrite it, or -o to pick another path' });
        }
        const n = await client.files.download(id, dest);
        const full = path.resolve(dest);
        ctx.result({ id, path: full, bytes: n }, () => `wrote ${dest} (${bytes(n)})`);
      }),
    );

  files
    .command('delete')
    .alias('rm')
    .description('delete a file')
    .argument('<id>', 'file id')
    .addHelpText('after', '\nExample:\n  $ assay files delete file-1234')
    .action(
      action(io, async (ctx, id: string) => {
        const deleted = await ctx.client().files.delete(id);
        ctx.result(deleted, () => `deleted ${id}`);
      }),
    );
}
