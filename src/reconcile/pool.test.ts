import { describe, expect, it } from '@jest/globals';
import { eachInSlices } from './pool.ts';

/** For each item, how many turns of the event loop had passed when it was handled. */
async function turnsSeen(count: number, every: number): Promise<number[]> {
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
    () => seen.push(turns),
    every,
  );
  running = false;
  return seen;
}

describe('eachInSlices', () => {
  const cases: [string, number, number, number[]][] = [
    ['nothing to do', 0, 4, []],
    ['fewer items than a slice: no turn given', 3, 4, [0, 0, 0]],
    ['a turn of the event loop between slices', 9, 4, [0, 0, 0, 0, 1, 1, 1, 1, 2]],
    ['a slice of one: a turn before each item but the first', 3, 1, [0, 1, 2]],
  ];
  it.each(cases)('%s', async (_, count, every, want) => {
    expect(await turnsSeen(count, every)).toEqual(want);
  });

  it('keeps the order of the items', async () => {
    const order: number[] = [];
    await eachInSlices([3, 1, 2, 5, 4], (i) => order.push(i), 2);
    expect(order).toEqual([3, 1, 2, 5, 4]);
  });
});
