import { describe, expect, it } from '@jest/globals';
import { FailureAllowance } from './limits.ts';

function clockAt(ms: number): { now(): Date; t: number } {
  const c = { t: ms, now: () => new Date(c.t) };
  return c;
}

type Step = ['reserve' | 'release' | 'fail', boolean | null] | ['wait', number];

describe('FailureAllowance (limit 2 a minute)', () => {
  const cases: [string, Step[]][] = [
    [
      'failures up to the limit, then beyond it',
      [
        ['fail', false],
        ['fail', false],
        ['fail', true],
        ['reserve', false],
      ],
    ],
    [
      'reviews in flight fill the allowance',
      [
        ['reserve', true],
        ['reserve', true],
        ['reserve', false],
        ['release', null],
        ['reserve', true],
      ],
    ],
    [
      'a review that succeeded costs nothing',
      [
        ['reserve', true],
        ['release', null],
        ['reserve', true],
        ['release', null],
        ['reserve', true],
        ['release', null],
        ['fail', false],
        ['fail', false],
        ['reserve', false],
      ],
    ],
    [
      'a new window forgives',
      [
        ['fail', false],
        ['fail', false],
        ['reserve', false],
        ['wait', 60_000],
        ['reserve', true],
      ],
    ],
  ];
  it.each(cases)('%s', (_, steps) => {
    const clock = clockAt(0);
    const a = new FailureAllowance(2, 60_000, clock);
    const seen = steps.map(([op, arg]) => {
      if (op === 'wait') {
        clock.t += arg;
        return arg;
      }
      if (op === 'release') {
        a.release('10.0.0.1');
        return null;
      }
      return op === 'reserve' ? a.reserve('10.0.0.1') : a.fail('10.0.0.1');
    });
    expect(seen).toEqual(steps.map(([, arg]) => arg));
  });

  it('keeps addresses apart', () => {
    const a = new FailureAllowance(1, 60_000, clockAt(0));
    a.fail('10.0.0.1');
    expect([a.reserve('10.0.0.1'), a.reserve('10.0.0.2')]).toEqual([false, true]);
  });
});
