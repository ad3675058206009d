/**
 * Where a node (`serve` or `worker`) starts listening, after its engine and backend are running.
 * A node that cannot listen (the port is taken) closes them before it reports why: its engine
 * thread, checkpointer, pool and queue would otherwise keep the process alive, and a worker would
 * go on taking chunks in a process that looks failed.
 */
import type { FastifyInstance } from 'fastify';

export async function listenOrClose(app: FastifyInstance, at: { host: string; port: number }, closeRest: () => Promise<void>): Promise<string> {
  try {
    return await app.listen({ host: at.host, port: at.port });
  } catch (err) {
    await app.close().catch(() => {});
    await closeRest();
    throw err;
  }
}
