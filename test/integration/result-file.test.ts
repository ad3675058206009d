/**
 * The result file an embedded job writes as its rows finish must be the very file a pass over the
 * stored rows at the job's end would write, summary included, however the rows' calls interleave.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeResultFile } from '../../src/engine/result-file.js';
import { GOOD, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  // Latencies that differ by row, so rows finish out of row order.
  h = await startHarness({ fake: { latencyMs: (req) => (Number(/#(\d+)/.exec(req.userText)?.[1] ?? 0) * 7) % 11 } });
});
afterAll(async () => {
  await h.close();
});

describe('the result file of an embedded job', () => {
  it('is byte for byte what a pass over the stored rows writes, with the same summary', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ id: i, question: `#${i} what?`, answer: i % 4 === 0 ? 'no' : `${GOOD} yes` }));
    const file = await h.uploadJsonl(rows);
    const id = await h.createJob({
      type: 'classify',
      parameters: {
        input_data_file_path: file.id,
        judge: { model: 'judge', model_source: 'serverless', system_template: 'Judge it.', num_workers: 16 },
        model_to_evaluate: 'answer',
        labels: ['right', 'wrong'],
        pass_labels: ['right'],
      },
    });
    const job = await h.waitForJob(id);
    expect(job.status).toBe('completed');
    const served = await h.request('GET', `/v1/files/${String(job.results?.['result_file_id'])}/content`);

    const { store, blobs } = h.server.backend;
    const record = await store.getJob(id);
    const dir = await mkdtemp(join(tmpdir(), 'assay-result-pass-'));
    try {
      const dest = join(dir, 'pass.jsonl');
      const info = await writeResultFile({
        store,
        jobId: id,
        spec: record!.spec,
        datasetPath: await blobs.localPath(file.id),
        datasetFormat: 'jsonl',
        destPath: dest,
        summary: { labelCountsAsString: h.config.labelCountsAsString, prices: h.config.prices },
      });
      expect(served.text).toBe(readFileSync(dest, 'utf8'));
      expect(job.results).toEqual({ ...info.summary.results, result_file_id: job.results?.['result_file_id'] });
      expect(info.lineCount).toBe(300);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
