/** Counting semaphores: at most `limit` holders at once; the rest wait in arrival order. */

/** Slots acquired and released apart, for a hold that spans several steps. */
export interface Slots {
  /**
   * Waits for a slot. Waiters are served lowest `rank` first (arrival order among equals): the
   * engine ranks a row by its index, so the oldest chunk of a job gets the free slots and finishes
   * first while later chunks keep the calls busy, instead of all chunks sharing the slots and
   * finishing, and draining the pipe, together.
   */
  acquire(rank?: number): Promise<void>;
  release(): void;
  /** Slots held now. */
  readonly taken: number;
}

export function createSlots(limit: number): Slots {
  let taken = 0;
  /** Sorted by rank, then arrival; short (one waiter per reader), so insertion is a scan. */
  const waiting: Array<{ rank: number; grant: () => void }> = [];
  return {
    get taken() {
      return taken;
    },
    async acquire(rank = Number.POSITIVE_INFINITY) {
      if (taken < limit) {
        taken++;
        return;
      }
      // The releasing holder hands its slot straight to the next waiter, so `taken` stays put.
      await new Promise<void>((grant) => {
        let i = waiting.length;
        while (i > 0 && waiting[i - 1]!.rank > rank) i--;
        waiting.splice(i, 0, { rank, grant });
      });
    },
    release() {
      const next = waiting.shift();
      if (next) next.grant();
      else taken--;
    },
  };
}

/** Runs tasks with at most `limit` at once. */
export interface Limiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly limit: number;
}

export function createLimiter(limit: number): Limiter {
  const slots = createSlots(limit);
  return {
    limit,
    get active() {
      return slots.taken;
    },
    async run(task) {
      await slots.acquire();
      try {
        return await task();
      } finally {
        slots.release();
      }
    },
  };
}
