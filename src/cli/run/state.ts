/**
 * Where `assay run` keeps a run, so that the same command run again resumes it. A run is keyed by
 * the input's content (SHA-256 of its bytes) and the job's parameters (tokens left out): the same
 * file and flags always land in the same state folder, `<input>.assay/<key>/`, holding one SQLite
 * database with the job and every row judged so far.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { redactTokens } from '../../domain/job-request.js';

/** Folder names use this many hex digits of the key. */
const KEY_LENGTH = 16;
/** Bumped when the meaning of a key changes, so old state folders are not mistaken for new runs. */
const KEY_VERSION = 1;

export async function hashFile(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(filePath), hash);
  return hash.digest('hex');
}

/** JSON with object keys sorted at every depth, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The run's key: input content + format + job parameters without the file id and tokens. */
export function runKey(contentHash: string, format: string, request: { type: string; parameters: Record<string, unknown> }): string {
  const { input_data_file_path: _ignored, ...parameters } = request.parameters;
  const material = canonicalJson({ v: KEY_VERSION, input: contentHash, format, type: request.type, parameters: redactTokens(parameters) });
  return createHash('sha256').update(material).digest('hex').slice(0, KEY_LENGTH);
}

export interface RunPaths {
  /** `<input>.assay` unless chosen with --state-dir. */
  root: string;
  /** `<root>/<key>`: this run's database and files. */
  dir: string;
  /** `<input folder>/<input name without extension>.results.jsonl` unless chosen with --output. */
  resultFile: string;
}

export function runPaths(input: string, key: string, opts: { stateDir?: string | undefined; output?: string | undefined }): RunPaths {
  const root = path.resolve(opts.stateDir ?? `${input}.assay`);
  const base = path.basename(input, path.extname(input));
  return {
    root,
    dir: path.join(root, key),
    resultFile: path.resolve(opts.output ?? path.join(path.dirname(input), `${base}.results.jsonl`)),
  };
}

/** A small note for people who look inside the state folder. */
export function writeRunNote(dir: string, note: Record<string, unknown>): void {
  const file = path.join(dir, 'run.json');
  if (fs.existsSync(file)) return;
  fs.writeFileSync(file, `${JSON.stringify(note, null, 2)}\n`);
}
