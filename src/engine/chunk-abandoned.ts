/**
 * Thrown by a chunk cut short because this process is shutting down: the queue must not count the
 * chunk as done, so it goes back to the queue for another worker (or this one, after a restart).
 */
export class ChunkAbandoned extends Error {
  constructor(jobId: string) {
    super(`chunk of job ${jobId} handed back: this process is shutting down`);
    this.name = 'ChunkAbandoned';
  }
}
