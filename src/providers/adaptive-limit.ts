/**
 * The concurrency limit of one endpoint, learnt from the server's 429s.
 *
 * - Shrink straight to what the server evidently allows: a 429 answered while `k` calls were in
 *   flight (counting itself) means at most `k - 1` fit, so the limit becomes `max(1, k - 1)`, never
 *   higher than it was.
 * - Grow by one after `2 × limit` consecutive successes of calls sent with every slot taken.
 * - Remember the limit under which a rejected call was sent: the level that proved too high.
 *   Growing back to it needs twice as long a run after each episode of 429s, so a steady server
 *   cap costs a logarithmic number of wasted calls. A full run at that level without a 429 moves
 *   the memory one level up and halves the run again; when the halvings use up the strikes, the
 *   memory is gone (the server now allows more).
 *
 * Counting in flight on the client overstates what the server sees (calls in transit), so a
 * probe one above the server's cap can pass; remembering the limit a 429 was sent under, rather
 * than the smaller level it shrinks to, keeps such a lucky probe from erasing the memory.
 */

/** What the limit needs to know about one call, taken when it is sent. */
export interface SentCall {
  /** Every slot was taken when it was sent, so a success says the limit is safe. */
  readonly saturated: boolean;
  /** The limit it was sent under. */
  readonly limit: number;
  readonly seq: number;
}

export interface AdaptiveLimit {
  readonly limit: number;
  /** A call is sent, with `inFlight` calls (itself included) now outstanding. */
  sent(inFlight: number): SentCall;
  succeeded(call: SentCall): void;
  /** The call was answered 429 while `inFlight` calls (itself included) were outstanding. */
  rateLimited(call: SentCall, inFlight: number): void;
}

/** Doubling stops here, so probing never stops altogether (2 × limit × 1024 calls at most). */
const MAX_STRIKES = 10;

export function createAdaptiveLimit(max: number): AdaptiveLimit {
  const ceilingMax = Math.max(1, Math.floor(max));
  let limit = ceilingMax;
  let seq = 0;
  /** Consecutive saturated successes at the current limit. */
  let run = 0;
  /** The lowest limit a rejected call was sent under, or null. */
  let ceiling: number | null = null;
  /** Episodes of 429s near `ceiling`, less the runs that passed it; each doubles the run needed to probe. */
  let strikes = 0;
  /** Calls sent up to this sequence number belong to the episode already counted. */
  let episodeEnd = 0;

  function runNeeded(): number {
    const probing = ceiling !== null && limit + 1 >= ceiling;
    return 2 * limit * (probing ? 2 ** Math.min(strikes, MAX_STRIKES) : 1);
  }

  return {
    get limit() {
      return limit;
    },
    sent(inFlight) {
      return { saturated: inFlight >= limit, limit, seq: ++seq };
    },
    succeeded(call) {
      if (!call.saturated || call.limit !== limit || limit >= ceilingMax) return;
      if (++run < runNeeded()) return;
      run = 0;
      // A whole run at the remembered level without a 429: the server allows this much now.
      if (ceiling !== null && limit >= ceiling) {
        strikes--;
        ceiling = strikes > 0 ? limit + 1 : null;
      }
      limit++;
    },
    rateLimited(call, inFlight) {
      run = 0;
      if (ceiling === null || call.limit < ceiling) ceiling = call.limit;
      if (call.seq > episodeEnd) {
        strikes++;
        episodeEnd = seq;
      }
      limit = Math.min(limit, Math.max(1, inFlight - 1));
    },
  };
}
