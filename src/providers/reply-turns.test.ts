import { describe, expect, it } from 'vitest';
import { createReplyTurns } from './reply-turns.js';

/** Lets every microtask and tick queued so far run (and those they queue). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Turns run by hand: `later` only records them, so the test decides when each turn comes. */
function harness(budgetMs: number, backlog?: number) {
  let clock = 0;
  const turns: Array<() => void> = [];
  const turn = createReplyTurns({ budgetMs, ...(backlog !== undefined ? { backlog } : {}), now: () => clock, later: (fn) => void turns.push(fn) });
  const released: number[] = [];
  /** A reply whose handling takes `ms` of the clock once it is let on. */
  const reply = (id: number, ms: number) =>
    turn().then(() => {
      released.push(id);
      clock += ms;
    });
  const runTurn = async () => {
    turns.shift()!();
    await settle();
  };
  return { turns, released, reply, runTurn };
}

describe('reply turns', () => {
  it('lets replies on in the order they came, as many per turn as fit in the budget', async () => {
    const h = harness(1);
    const done = [1, 2, 3, 4, 5].map((id) => h.reply(id, 0.4));
    await settle();
    // Nothing goes on before its turn.
    expect(h.released).toEqual([]);
    expect(h.turns).toHaveLength(1);
    await h.runTurn();
    // 0.4 + 0.4 = 0.8 ms is within the budget, 1.2 ms is not: the third ends the turn.
    expect(h.released).toEqual([1, 2, 3]);
    expect(h.turns).toHaveLength(1);
    await h.runTurn();
    expect(h.released).toEqual([1, 2, 3, 4, 5]);
    await Promise.all(done);
    // Nobody waits, so no turn is booked.
    expect(h.turns).toHaveLength(0);
  });

  it('decides on the next reply only after the work of the one let on is done', async () => {
    const h = harness(1);
    const order: string[] = [];
    const first = h.reply(1, 0).then(async () => {
      order.push('1 starts');
      // Work spread over several microtasks still finishes before the next reply goes on.
      await Promise.resolve();
      await Promise.resolve();
      order.push('1 ends');
    });
    const second = h.reply(2, 0).then(() => order.push('2 starts'));
    await settle();
    await h.runTurn();
    await Promise.all([first, second]);
    expect(order).toEqual(['1 starts', '1 ends', '2 starts']);
  });

  it('with no budget, lets one reply on per turn', async () => {
    const h = harness(0);
    const done = [1, 2, 3].map((id) => h.reply(id, 0));
    await settle();
    await h.runTurn();
    expect(h.released).toEqual([1]);
    await h.runTurn();
    expect(h.released).toEqual([1, 2]);
    await h.runTurn();
    expect(h.released).toEqual([1, 2, 3]);
    await Promise.all(done);
    expect(h.turns).toHaveLength(0);
  });

  it('goes on within a turn only while a backlog waits, and one reply per turn below it', async () => {
    const h = harness(10, 3);
    const done = [1, 2, 3, 4, 5, 6].map((id) => h.reply(id, 0.1));
    await settle();
    await h.runTurn();
    // After 1, five wait; after 2, four; after 3, three; after 4 only two: the turn ends there.
    expect(h.released).toEqual([1, 2, 3, 4]);
    await h.runTurn();
    expect(h.released).toEqual([1, 2, 3, 4, 5]);
    await h.runTurn();
    expect(h.released).toEqual([1, 2, 3, 4, 5, 6]);
    await Promise.all(done);
    expect(h.turns).toHaveLength(0);
  });

  it('keeps to the budget even while a backlog waits', async () => {
    const h = harness(1, 2);
    const done = [1, 2, 3, 4, 5, 6].map((id) => h.reply(id, 0.6));
    await settle();
    await h.runTurn();
    // 1.2 ms after the second reply: over the budget, though four still wait.
    expect(h.released).toEqual([1, 2]);
    await h.runTurn();
    expect(h.released).toEqual([1, 2, 3, 4]);
    await h.runTurn();
    // After 5 only one waits, below the backlog of two: the turn ends.
    expect(h.released).toEqual([1, 2, 3, 4, 5]);
    await h.runTurn();
    await Promise.all(done);
    expect(h.released).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('books a new turn for a reply that comes after the queue ran dry', async () => {
    const h = harness(1);
    const first = h.reply(1, 0);
    await h.runTurn();
    await first;
    expect(h.turns).toHaveLength(0);
    const second = h.reply(2, 0);
    await settle();
    expect(h.turns).toHaveLength(1);
    await h.runTurn();
    await second;
    expect(h.released).toEqual([1, 2]);
  });
});
