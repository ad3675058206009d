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
