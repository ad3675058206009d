/**
 * Model replies handled a little at a time, so that the calls they free leave at once.
 *
 * undici writes a request on a reused keep-alive connection only in the event loop's check phase
 * (it first lets the loop take a turn, so that anything the server sent on the idle socket is seen
 * before the next request). A loop that handles a burst of replies back to back in one I/O phase
 * therefore sends every call those replies free at the end of that phase, together; calls sent
 * together come back together, and each cycle the bursts grow into waves that the loop works
 * through while the rest of the wave waits. Letting replies on one after another only for about a
 * millisecond per turn, and leaving the rest for the next turn, has each call written within
 * about a millisecond of its row's reply, so calls stay spread over the model's latency.
 *
 * Measured (docs/benchmarks.md, fifth session): a bare loop spending 300 µs a reply went from 0.755
 * to 0.962 of the ideal at L = 50 ms handling one reply per turn. With a 1 ms budget per turn,
 * assay's jobs gained 0.02–0.04 at L = 50 ms, and the first job after start about 0.05 at both
 * L = 50 and 200 ms. One reply per turn with no budget cost a quarter of the throughput with an
 * instant judge, where the rows of a turn share one commit; with the budget, a turn still takes
 * several replies when many wait. The API's p99 under load came out about 10 ms worse in the median
 * of five pairs of runs, within a spread of 25–106 ms: a loop that goes from turn to turn while
 * replies wait blocks in its poll for I/O less often.
 *
 * A turn goes on past its first reply only while a backlog waits (thirteenth session). With a
 * budget alone, the three or four replies that fit in a millisecond shared a turn and a commit, and
 * their calls left together and came back together: small bursts, each cycle, in which every reply
 * waited for the ones before it. With one reply per turn while few wait, each call leaves as soon
 * as its reply is handled, and the calls spread out over the model's latency on their own; once
 * replies pile up (an instant judge, or code still running cold), turns take several again, so
 * they share commits. 21 interleaved pairs at L = 50 ms: the warm job gained 0.013 on average
 * (higher in 18), the first job 0.010 (higher in 14), for 80–175 µs more CPU a row on
 * cores that were idle; an instant judge lost nothing over 10,000 rows and about 10% over 200,000,
 * where the backlog sometimes drops below the threshold (docs/benchmarks.md, step 32). One reply
 * per turn at any backlog halves an instant judge's throughput.
 */

/** How long a turn goes on letting replies on, once it has let on its first. */
export const REPLY_TURN_BUDGET_MS = 1;

/** How many replies must be waiting for a turn to go on to the next one within its budget. */
export const REPLY_TURN_BACKLOG = 8;

export interface ReplyTurnsOptions {
  budgetMs: number;
  /** A turn lets on another reply only while at least this many wait (default 0: whenever any do). */
  backlog?: number;
  /** The clock the budget is measured on (tests use their own). */
  now?: () => number;
  /** Runs a function in a later turn of the event loop (default: `setImmediate`). */
  later?: (fn: () => void) => void;
}

/** Returns `turn()`: resolves when its caller may go on handling its reply. */
export function createReplyTurns(opts: ReplyTurnsOptions): () => Promise<void> {
  const now = opts.now ?? (() => performance.now());
  const later = opts.later ?? ((fn: () => void) => void setImmediate(fn));
  const backlog = opts.backlog ?? 0;
  const waiting: Array<() => void> = [];
  let booked = false;
  let turnStarted = 0;

  function startTurn(): void {
    turnStarted = now();
    letOneOn();
  }

  function letOneOn(): void {
    waiting.shift()!();
    // Decide on the next only once this reply's work is done: its continuation runs as microtasks,
    // and a tick queued from a microtask runs after all of them.
    queueMicrotask(() => process.nextTick(afterOne));
  }

  function afterOne(): void {
    if (waiting.length === 0) booked = false;
    else if (waiting.length >= backlog && now() - turnStarted < opts.budgetMs) letOneOn();
    else later(startTurn);
  }

  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!booked) {
        booked = true;
        later(startTurn);
      }
    });
}

/** The process's replies share one event loop, so they share one queue. */
export const replyTurn = createReplyTurns({ budgetMs: REPLY_TURN_BUDGET_MS, backlog: REPLY_TURN_BACKLOG });
