import { describe, expect, it } from '@jest/globals';
import { digestKey, ReviewCache } from './review-cache.ts';

function clockAt(ms: number): { now(): Date; t: number } {
  const c = { t: ms, now: () => new Date(c.t) };
  return c;
}

describe('ReviewCache', () => {
  const ttl = { positiveMs: 10_000, negativeMs: 2_000, maxEntries: 3 };
  const cases: [string, boolean, number, boolean][] = [
    ['an allowed answer, within its time', true, 9_999, true],
    ['an allowed answer, after its time', true, 10_000, false],
    ['a refusal, within its shorter time', false, 1_999, true],
    ['a refusal, after its time', false, 2_000, false],
  ];
  it.each(cases)('%s', (_, value, laterMs, kept) => {
    const clock = clockAt(0);
    const cache = new ReviewCache<boolean>(ttl, clock, (v) => v);
    cache.set('k', value);
    clock.t = laterMs;
    expect(cache.get('k') !== undefined).toBe(kept);
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const cache = new ReviewCache<boolean>(ttl, clockAt(0), (v) => v);
    for (const k of ['a', 'b', 'c', 'd']) cache.set(k, true);
    expect(cache.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((k) => cache.get(k))).toEqual([undefined, true, true, true]);
  });

  it('keeps nothing when the time is zero', () => {
    const cache = new ReviewCache<boolean>({ ...ttl, negativeMs: 0 }, clockAt(0), (v) => v);
    cache.set('k', false);
    expect(cache.get('k')).toBeUndefined();
  });

  it('asks once within the time, and does not keep errors', async () => {
    const cache = new ReviewCache<boolean>(ttl, clockAt(0), (v) => v);
    let asked = 0;
    const ask = () => Promise.resolve(++asked > 0);
    await cache.through('k', ask);
    await cache.through('k', ask);
    expect(asked).toBe(1);
    await expect(cache.through('e', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(cache.get('e')).toBeUndefined();
  });
});

describe('digestKey', () => {
  it('is a SHA-256 hex digest that does not contain its parts', () => {
    const key = digestKey('token', 'sekrit-token-value');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toContain('sekrit');
  });
  it('tells apart lists of parts that join to the same text', () => {
    expect(digestKey('ab', 'c')).not.toBe(digestKey('a', 'bc'));
  });
});
