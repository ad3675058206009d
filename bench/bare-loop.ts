/**
 * The benchmark's bare loop: judge calls shaped like assay's, sent over undici C at a time to the
 * fake judge, with no service in between: what the machine and the fake allow. It runs inside the
 * benchmark's process, whose undici has long been warm, or, run as a script, in a fresh Node
 * process, which pays for V8 compiling and optimizing the loop during it as assay's first job
 * after a server start does (docs/benchmarks.md).
 *
 * As a script: `node dist-bench/bench/bare-loop.js '<BareLoopOptions as JSON>'` prints the
 * `BareLoopResult` as JSON on its last line of output.
 */
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { createReplyTurns } from '../src/providers/reply-turns.js';

export interface BareLoopOptions {
  /** The fake judge's base URL, with /v1. */
  url: string;
  calls: number;
  concurrency: number;
  /** Stops sending once this much time has passed; the result then has fewer calls. */
  limitSeconds: number;
  /** CPU spent on each reply before the next call, as an orchestrator's own work would be. */
  cpuPerCallUs?: number;
  /** At most one reply per turn of the event loop (reply-turns.ts with no budget). */
  onePerTurn?: boolean;
}

export interface BareLoopResult {
  /** From the first request to the last reply. */
  wallS: number;
  /** Calls answered. */
  calls: number;
}

/**
 * A judge call's body as assay would send it for the benchmark's dataset row `i` (the system prompt
 * with the verdict format, the row as the user turn).
 */
export function judgeCallBody(i: number, model: string): string {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: `Is the answer to What is ${i} + ${i}? correct?\n\nReply with a JSON object with the keys "feedback" and "label"; "label" is one of "correct", "incorrect".` },
      { role: 'user', content: `<response>It is ${2 * i}, because adding ${i} twice gives ${2 * i}.</response>` },
    ],
    max_tokens: 64,
    temperature: 0.05,
    response_format: { type: 'json_schema', json_schema: { name: 'verdict', schema: { type: 'object', properties: { feedback: { type: 'string' }, label: { enum: ['correct', 'incorrect'] } } } } },
  });
}

/** Keeps the thread busy for `us` microseconds. */
function spin(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

export async function bareLoop(opts: BareLoopOptions): Promise<BareLoopResult> {
  const pool = new Pool(new URL(opts.url).origin, { connections: opts.concurrency });
  const turn = opts.onePerTurn ? createReplyTurns({ budgetMs: 0 }) : null;
  const deadline = performance.now() + opts.limitSeconds * 1000;
  let next = 0;
  let answered = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < opts.calls && performance.now() < deadline; i = next++) {
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: judgeCallBody(i, 'bare-judge') });
      JSON.parse(await res.body.text());
      answered++;
      if (turn) await turn();
      if (opts.cpuPerCallUs) spin(opts.cpuPerCallUs);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const wallS = (performance.now() - started) / 1000;
  await pool.close();
  return { wallS, calls: answered };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await bareLoop(JSON.parse(process.argv[2] ?? '') as BareLoopOptions);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
