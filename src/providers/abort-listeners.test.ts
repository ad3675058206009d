import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { whenAborted } from './abort-listeners.js';

describe('whenAborted', () => {
  it('calls, once, every function still listening when the signal aborts', () => {
    const controller = new AbortController();
    const called: string[] = [];
    whenAborted(controller.signal, () => called.push('a'));
    const stopB = whenAborted(controller.signal, () => called.push('b'));
    whenAborted(controller.signal, () => called.push('c'));
    stopB();
    controller.abort();
    controller.abort();
    expect(called).toEqual(['a', 'c']);
  });

  it('puts one listener on the signal however many listen, and none once all have stopped', () => {
    const controller = new AbortController();
    const stops = Array.from({ length: 100 }, () => whenAborted(controller.signal, () => {}));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    for (const stop of stops) stop();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // And listening again afterwards still works.
    let called = 0;
    whenAborted(controller.signal, () => called++);
    controller.abort();
    expect(called).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('lets a function stop listening from inside another one\'s call', () => {
    const controller = new AbortController();
    const called: string[] = [];
    let stopB = (): void => {};
    whenAborted(controller.signal, () => {
      called.push('a');
      stopB();
    });
    stopB = whenAborted(controller.signal, () => called.push('b'));
    controller.abort();
    // b stopped before its turn came.
    expect(called).toEqual(['a']);
  });
});
