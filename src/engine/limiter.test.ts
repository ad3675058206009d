import { describe, expect, it } from 'vitest';
import { createLimiter, createSlots } from './limiter.js';

describe('createSlots', () => {
  it('serves waiters lowest rank first, arrival order among equals', async () => {
    const slots = createSlots(1);
    await slots.acquire(0);
    const order: string[] = [];
    const waits = [
      slots.acquire(200).then(() => order.push('200')),
      slots.acquire(70).then(() => order.push('70')),
      slots.acquire(130).then(() => order.push('130')),
      slots.acquire(70).then(() => order.push('70 again')),
      slots.acquire().then(() => order.push('unranked')),
    ];
    for (let i = 0; i < waits.length; i++) {
      slots.release();
      await Promise.resolve();
      await Promise.resolve();
    }
    await Promise.all(waits);
    expect(order).toEqual(['70', '70 again', '130', '200', 'unranked']);
    expect(slots.taken).toBe(1);
  });
});

describe('createSlots handing slots out together', () => {
  /** Lets granted waiters' continuations run. */
  const settle = async () => {
    for (let i = 0; i < 3; i++) await Promise.resolve();
  };

  it('holds freed slots back until it can hand out a group, then hands out every free one', async () => {
    const slots = createSlots(6, { grantTogether: 3, keepHeld: 2 });
    for (let i = 0; i < 6; i++) await slots.acquire(i);
    const granted: number[] = [];
    const waits = [6, 7, 8, 9, 10].map((rank) => slots.acquire(rank).then(() => granted.push(rank)));
    slots.release();
    slots.release();
    await settle();
    expect(granted).toEqual([]);
    expect(slots.taken).toBe(4);
    slots.release();
    await settle();
    expect(granted).toEqual([6, 7, 8]);
    expect(slots.taken).toBe(6);
    for (let i = 0; i < 3; i++) slots.release();
    await Promise.all(waits);
    expect(granted).toEqual([6, 7, 8, 9, 10]);
    expect(slots.taken).toBe(5);
  });

  it('hands slots out at once while fewer than keepHeld are held', async () => {
    const slots = createSlots(4, { grantTogether: 4, keepHeld: 3 });
    for (let i = 0; i < 4; i++) await slots.acquire(i);
    const granted: number[] = [];
    const waits = [4, 5].map((rank) => slots.acquire(rank).then(() => granted.push(rank)));
    slots.release();
    await settle();
    expect(granted).toEqual([]);
    // Two held now, below keepHeld: both free slots go.
    slots.release();
    await Promise.all(waits);
    expect(granted).toEqual([4, 5]);
    expect(slots.taken).toBe(4);
  });

  it('gives a newcomer a free slot at once while none wait', async () => {
    const slots = createSlots(4, { grantTogether: 4 });
    for (let i = 0; i < 4; i++) await slots.acquire(i);
    slots.release();
    await slots.acquire(9);
    expect(slots.taken).toBe(4);
  });
});

describe('createLimiter', () => {
  it('never runs more than its limit at once', async () => {
    const limiter = createLimiter(3);
    let running = 0;
    let most = 0;
    const tasks = Array.from({ length: 10 }, () =>
      limiter.run(async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
      }),
    );
    await Promise.all(tasks);
    expect(most).toBe(3);
    expect(limiter.active).toBe(0);
  });
});
