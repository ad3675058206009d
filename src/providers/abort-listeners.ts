/**
 * Listening for a job's abort from every call of the job. An AbortSignal keeps its listeners in a
 * list it walks on every add and remove (to skip duplicates), and a job's signal is shared by all
 * its calls in flight: with 64 of them, each call paid about 10 µs adding and removing its two
 * listeners (the scheduler's and the HTTP request's). Here a signal gets one listener of its own,
 * which calls a set of functions, so adding and removing is constant time.
 */

interface Fanout {
  fns: Set<() => void>;
  listener: () => void;
}

const fanouts = new WeakMap<AbortSignal, Fanout>();

/**
 * Calls `fn` once when `signal` aborts (not if it already has: check `signal.aborted` first).
 * Returns a function that stops listening; once nothing listens, the signal has no listener left.
 */
export function whenAborted(signal: AbortSignal, fn: () => void): () => void {
  let fanout = fanouts.get(signal);
  if (!fanout) {
    const fns = new Set<() => void>();
    const listener = (): void => {
      fanouts.delete(signal);
      for (const f of fns) f();
    };
    fanout = { fns, listener };
    fanouts.set(signal, fanout);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { fns, listener } = fanout;
  fns.add(fn);
  return () => {
    if (!fns.delete(fn) || fns.size > 0 || fanouts.get(signal)?.fns !== fns) return;
    fanouts.delete(signal);
    signal.removeEventListener('abort', listener);
  };
}
