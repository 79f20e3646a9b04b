import { describe, expect, it } from '@jest/globals';
import type { AccountState } from '../model/state.ts';
import { accountOrder, pageStart } from './app.ts';

const st = (kind: 'tool' | 'admin', name: string): AccountState => ({ kind, name }) as AccountState;

describe('the listing order and its cursor', () => {
  const all = [st('tool', 'b'), st('admin', 'z'), st('tool', 'a-b'), st('tool', 'a0'), st('tool', 'a')].sort(
    accountOrder,
  );
  it('is kind, then name, by code unit', () => {
    expect(all.map((s) => `${s.kind}/${s.name}`)).toEqual([
      'admin/z',
      'tool/a',
      'tool/a-b',
      'tool/a0',
      'tool/b',
    ]);
  });
  const cases: [string, string, number][] = [
    ['after the first', 'admin/z', 1],
    ['after one in the middle', 'tool/a-b', 3],
    ['after one that is gone since (between two)', 'tool/a-a', 2],
    ['after the last', 'tool/b', 5],
    ['after everything', 'zzz', 5],
    ['before everything', 'a', 0],
  ];
  it.each(cases)('starts %s', (_name, after, index) => {
    expect(pageStart(all, after)).toBe(index);
  });
});
