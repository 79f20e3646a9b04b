import { describe, expect, it } from '@jest/globals';
import { backoffMs, renewalTime, stateRenewalTime, unitFromSeed } from './renewal.ts';

const nb = new Date('2026-01-01T00:00:00Z');
const na = new Date('2026-01-31T00:00:00Z');
const DAY = 86_400_000;

describe('renewalTime', () => {
  it('renews at two thirds of the real lifetime without jitter', () => {
    expect(renewalTime(nb, na, { renewFraction: 2 / 3, jitterFraction: 0 }, 's')).toEqual(
      new Date(nb.getTime() + 20 * DAY),
    );
  });

  it('moves earlier by at most the jitter share, fixed per seed', () => {
    const p = { renewFraction: 2 / 3, jitterFraction: 0.1 };
    const times = ['a', 'b', 'c', 'd'].map((seed) => renewalTime(nb, na, p, seed).getTime());
    for (const t of times) {
      expect(t).toBeLessThanOrEqual(nb.getTime() + 20 * DAY);
      expect(t).toBeGreaterThan(nb.getTime() + 17 * DAY);
    }
    expect(new Set(times).size).toBe(4);
    expect(renewalTime(nb, na, p, 'a')).toEqual(renewalTime(nb, na, p, 'a'));
  });

  it('spreads seeds over [0, 1)', () => {
    const u = Array.from({ length: 1000 }, (_, i) => unitFromSeed(String(i)));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(u.filter((x) => x < 0.5).length).toBeGreaterThan(400);
  });
});

describe('backoffMs', () => {
  const now = new Date('2026-01-10T00:00:00Z');
  const cases: [string, number, Date | undefined, number][] = [
    ['first failure', 1, undefined, 30_000],
    ['third failure', 3, undefined, 120_000],
    ['many failures cap at an hour', 30, undefined, 3_600_000],
    ['a tenth of the time left', 30, new Date(now.getTime() + 2 * 3_600_000), 720_000],
    ['never under 30 s', 30, new Date(now.getTime() + 60_000), 30_000],
  ];
  it.each(cases)('%s', (_, failures, notAfter, ms) => expect(backoffMs(failures, now, notAfter)).toBe(ms));
});

describe('stateRenewalTime', () => {
  const policy = { renewFraction: 2 / 3, jitterFraction: 0.1 };
  const state = {
    kind: 'tool',
    name: 'a',
    serial: '0a1b',
    notBefore: new Date('2026-11-01T00:00:00Z'),
    notAfter: new Date('2026-12-01T00:00:00Z'),
  };
  const fresh = (p: typeof policy) => renewalTime(state.notBefore, state.notAfter, p, 'tool/a/0a1b');
  it.each([
    {
      name: "as renewalTime with the state's seed",
      ask: () => stateRenewalTime(state, policy),
      want: fresh(policy),
    },
    {
      name: 'asked again, the same time (kept), a copy the caller may change',
      ask: () => (stateRenewalTime(state, policy)!.setTime(0), stateRenewalTime(state, policy)),
      want: fresh(policy),
    },
    {
      name: 'another policy: computed for it',
      ask: () => stateRenewalTime(state, { renewFraction: 0.5, jitterFraction: 0 }),
      want: fresh({ renewFraction: 0.5, jitterFraction: 0 }),
    },
    {
      name: 'no certificate: none',
      ask: () => stateRenewalTime({ kind: 'tool', name: 'b' }, policy),
      want: undefined,
    },
  ])('$name', ({ ask, want }) => {
    expect(ask()).toEqual(want);
  });
});
