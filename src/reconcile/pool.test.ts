import { describe, expect, it } from '@jest/globals';
import { Slices } from './pool.ts';

/**
 * Runs passes of items through one Slices, each item taking `costMs` of a clock of the test's own
 * and a slice `budgetMs`; with `checkpoint`, one between passes. For each item of each pass, how many
 * turns of the event loop had passed; with `checkpoint`, between the passes' lists, the turns passed
 * right after it.
 */
async function turnsSeen(
  passes: number[],
  costMs: number,
  budgetMs: number,
  between: 'nothing' | 'checkpoint' = 'nothing',
): Promise<number[][]> {
  let clock = 0;
  let turns = 0;
  let running = true;
  const tick = (): void => {
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const slices = new Slices({ budgetMs, now: () => clock });
  const seen: number[][] = [];
  for (const [p, count] of passes.entries()) {
    const pass: number[] = [];
    await slices.each(
      Array.from({ length: count }, (_, i) => i),
      () => {
        pass.push(turns);
        clock += costMs;
      },
    );
    seen.push(pass);
    if (p < passes.length - 1 && between === 'checkpoint') {
      await slices.checkpoint();
      seen.push([turns]);
    }
  }
  running = false;
  return seen;
}

describe('Slices', () => {
  // [case, items per pass, ms each, budget ms, between passes, turns seen by each item of each pass]
  const cases: [string, number[], number, number, 'nothing' | 'checkpoint', number[][]][] = [
    ['nothing to do', [0], 1, 4, 'nothing', [[]]],
    ['all within one budget: no turn given', [3], 1, 4, 'nothing', [[0, 0, 0]]],
    [
      'a turn of the event loop each time the budget is spent',
      [9],
      1,
      4,
      'nothing',
      [[0, 0, 0, 0, 1, 1, 1, 1, 2]],
    ],
    [
      'items longer than the budget: a turn before each item but the first',
      [3],
      5,
      4,
      'nothing',
      [[0, 1, 2]],
    ],
    ['free items (a no-op): never a turn', [5], 0, 4, 'nothing', [[0, 0, 0, 0, 0]]],
    // Each pass starting a budget of its own would give the second pass 4 more ms before a turn.
    [
      'the budget spans passes: the next pass gives the turn the last one owed',
      [3, 3],
      1,
      4,
      'nothing',
      [
        [0, 0, 0],
        [0, 1, 1],
      ],
    ],
    [
      // The turn comes at the checkpoint itself, before the next pass (which might be empty).
      'a checkpoint between passes gives the turn once the budget is spent',
      [4, 0],
      1,
      4,
      'checkpoint',
      [[0, 0, 0, 0], [1], []],
    ],
    ['a checkpoint within the budget gives none', [2, 2], 1, 4, 'checkpoint', [[0, 0], [0], [0, 0]]],
  ];
  it.each(cases)('%s', async (_, passes, cost, budget, between, want) => {
    expect(await turnsSeen(passes, cost, budget, between)).toEqual(want);
  });

  it('keeps the order of the items', async () => {
    const order: number[] = [];
    await new Slices({ budgetMs: 0 }).each([3, 1, 2, 5, 4], (i) => order.push(i));
    expect(order).toEqual([3, 1, 2, 5, 4]);
  });
});
