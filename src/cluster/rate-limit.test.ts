import { describe, expect, it } from '@jest/globals';
import { TokenBucket, type Ticker } from './rate-limit.ts';

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
