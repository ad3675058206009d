/** Counting semaphores: at most `limit` holders at once; the rest wait in arrival order. */

/** Slots acquired and released apart, for a hold that spans several steps. */
export interface Slots {
  acquire(): Promise<void>;
  release(): void;
  /** Slots held now. */
  readonly taken: number;
}

export function createSlots(limit: number): Slots {
  let taken = 0;
  const waiting: Array<() => void> = [];
  return {
    get taken() {
      return taken;
    },
    async acquire() {
      if (taken < limit) taken++;
      // The releasing holder hands its slot straight to the next waiter, so `taken` stays put.
      else await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next) next();
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
