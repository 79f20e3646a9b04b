import { describe, expect, it } from '@jest/globals';
import { BudgetExhausted, TokenBucket, type Ticker } from './rate-limit.ts';

function fakeTicker(): Ticker & { t: number } {
  const tk = {
    t: 0,
    now: () => tk.t,
    sleep: (ms: number) => {
      tk.t += ms;
      return Promise.resolve();
    },
  };
  return tk;
}

describe('TokenBucket', () => {
  const cases: [string, number, number, number, number][] = [
    ['a burst goes at once', 10, 5, 5, 0],
    ['beyond the burst, at the rate', 10, 5, 15, 1000],
    ['a slow rate', 2, 1, 5, 2000],
  ];
  it.each(cases)('%s', async (_, qps, burst, requests, elapsedMs) => {
    const tk = fakeTicker();
    const bucket = new TokenBucket(qps, burst, tk);
    for (let i = 0; i < requests; i++) await bucket.take();
    expect(tk.t).toBeCloseTo(elapsedMs, 6);
  });
});

describe('TokenBucket with a bounded queue', () => {
  /** A ticker whose sleeps end only when `release()` is called. */
  function heldTicker(): Ticker & { release(): void } {
    let t = 0;
    const held: (() => void)[] = [];
    return {
      now: () => t,
      sleep: (ms: number) =>
        new Promise<void>((resolve) =>
          held.push(() => {
            t += ms;
            resolve();
          }),
        ),
      release: () => held.splice(0).forEach((r) => r()),
    };
  }
  const cases: [string, number, number, { taken: number; refused: number }][] = [
    ['refuses at once beyond the bound', 2, 4, { taken: 3, refused: 2 }],
    ['queues up to the bound', 4, 4, { taken: 5, refused: 0 }],
  ];
  it.each(cases)('%s', async (_, maxWaiting, queued, counters) => {
    const tk = heldTicker();
    const bucket = new TokenBucket(1, 1, tk, { maxWaiting });
    await bucket.take();
    const outcomes = Array.from({ length: queued }, () =>
      bucket.take().then(
        () => 'went',
        (err: unknown) => (err instanceof BudgetExhausted ? err.reason : 'other'),
      ),
    );
    for (let i = 0; i < queued; i++) {
      await new Promise((r) => setImmediate(r));
      tk.release();
    }
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r === 'budget-exhausted')).toHaveLength(counters.refused);
    expect(bucket.counters()).toEqual(counters);
  });
});
