import { describe, expect, it } from '@jest/globals';
import { eachInSlices } from './pool.ts';

/** For each item, how many turns of the event loop had passed when it was handled. */
/** Each item takes `costMs` of a clock of the test's own; a slice may take `budgetMs`. */
async function turnsSeen(count: number, costMs: number, budgetMs: number): Promise<number[]> {
  let clock = 0;
  let turns = 0;
  let running = true;
  const tick = (): void => {
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const seen: number[] = [];
  await eachInSlices(
    Array.from({ length: count }, (_, i) => i),
    () => {
      seen.push(turns);
      clock += costMs;
    },
    { budgetMs, now: () => clock },
  );
  running = false;
  return seen;
}

describe('eachInSlices', () => {
  // [case, items, ms each, budget ms, turns seen by each item]
  const cases: [string, number, number, number, number[]][] = [
    ['nothing to do', 0, 1, 4, []],
    ['all within one budget: no turn given', 3, 1, 4, [0, 0, 0]],
    ['a turn of the event loop each time the budget is spent', 9, 1, 4, [0, 0, 0, 0, 1, 1, 1, 1, 2]],
    ['items longer than the budget: a turn before each item but the first', 3, 5, 4, [0, 1, 2]],
    ['free items (a no-op): never a turn', 5, 0, 4, [0, 0, 0, 0, 0]],
  ];
  it.each(cases)('%s', async (_, count, cost, budget, want) => {
    expect(await turnsSeen(count, cost, budget)).toEqual(want);
  });

  it('keeps the order of the items', async () => {
    const order: number[] = [];
    await eachInSlices([3, 1, 2, 5, 4], (i) => order.push(i), { budgetMs: 0 });
    expect(order).toEqual([3, 1, 2, 5, 4]);
  });
});
