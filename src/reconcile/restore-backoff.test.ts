import { describe, expect, it } from '@jest/globals';
import { nextRestore, type RestoreHistory } from './restore-backoff.ts';

const s = { firstDelayMs: 1000, maxDelayMs: 60_000 };

describe('nextRestore', () => {
  const cases: [string, RestoreHistory | undefined, number, ReturnType<typeof nextRestore>][] = [
    [
      'first change: at once, told',
      undefined,
      5000,
      { runAt: 5000, say: true, fightStarts: false, history: { ranAt: 5000, delayMs: 0, toldAt: 5000 } },
    ],
    [
      'foreign again 100 ms after a restore: the fight starts, 1 s after that restore, not told again',
      { ranAt: 5000, delayMs: 0, toldAt: 5000 },
      5100,
      { runAt: 6000, say: false, fightStarts: true, history: { ranAt: 6000, delayMs: 1000, toldAt: 5000 } },
    ],
    [
      'fight goes on: the delay doubles, told once the window has passed',
      { ranAt: 6000, delayMs: 1000, toldAt: 5000 },
      6050,
      { runAt: 8000, say: false, fightStarts: false, history: { ranAt: 8000, delayMs: 2000, toldAt: 5000 } },
    ],
    [
      'fight goes on past a window since the last Event: told',
      { ranAt: 8000, delayMs: 2000, toldAt: 5000 },
      9500,
      {
        runAt: 12_000,
        say: true,
        fightStarts: false,
        history: { ranAt: 12_000, delayMs: 4000, toldAt: 9500 },
      },
    ],
    [
      'the delay stops at the sync interval',
      { ranAt: 100_000, delayMs: 32_000, toldAt: 100_000 },
      100_010,
      {
        runAt: 160_000,
        say: false,
        fightStarts: false,
        history: { ranAt: 160_000, delayMs: 60_000, toldAt: 100_000 },
      },
    ],
    [
      'quiet for longer than the current delay: reset, at once',
      { ranAt: 8000, delayMs: 2000, toldAt: 5000 },
      10_001,
      {
        runAt: 10_001,
        say: true,
        fightStarts: false,
        history: { ranAt: 10_001, delayMs: 0, toldAt: 10_001 },
      },
    ],
    [
      'quiet for longer than the first delay after a single restore: reset',
      { ranAt: 5000, delayMs: 0, toldAt: 5000 },
      6001,
      { runAt: 6001, say: true, fightStarts: false, history: { ranAt: 6001, delayMs: 0, toldAt: 6001 } },
    ],
  ];
  it.each(cases)('%s', (_name, h, now, want) => {
    expect(nextRestore(h, now, s)).toEqual(want);
  });
});
