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

export interface SlotsOptions {
  /**
   * Hands freed slots to waiters this many at a time, so that the rows let in together ask the
   * call cache together: a store whose lookups are round trips answers all the lookups of a turn
   * in one query (pg-store.ts). Default 1: each freed slot goes to a waiter at once.
   */
  grantTogether?: number;
  /**
   * While fewer than this many slots are held, freed slots go to waiters at once whatever
   * `grantTogether` says, so that holding slots back never leaves the calls short of rows.
   */
  keepHeld?: number;
}

export function createSlots(limit: number, opts: SlotsOptions = {}): Slots {
  const together = Math.max(1, Math.min(opts.grantTogether ?? 1, limit));
  const keepHeld = opts.keepHeld ?? 0;
  let taken = 0;
  /** Sorted by rank, then arrival; short (one waiter per reader), so insertion is a scan. */
  const waiting: Array<{ rank: number; grant: () => void }> = [];
  /** Whether a free slot may go to a waiter now, or waits for others to be freed with it. */
  const mayGrant = (): boolean => taken < limit && (limit - taken >= together || taken < keepHeld);
  return {
    get taken() {
      return taken;
    },
    async acquire(rank = Number.POSITIVE_INFINITY) {
      // Rows asking while none wait come together anyway (a chunk asks for all its rows at once).
      if (waiting.length === 0 && taken < limit) {
        taken++;
        return;
      }
      await new Promise<void>((grant) => {
        let i = waiting.length;
        while (i > 0 && waiting[i - 1]!.rank > rank) i--;
        waiting.splice(i, 0, { rank, grant });
      });
    },
    release() {
      taken--;
      // Once some may go, all free slots go: a group is every slot freed since the last one.
      if (!mayGrant()) return;
      while (waiting.length > 0 && taken < limit) {
        taken++;
        waiting.shift()!.grant();
      }
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
