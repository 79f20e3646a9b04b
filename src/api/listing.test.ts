import { describe, expect, it } from '@jest/globals';
import type { AccountState } from '../model/state.ts';
import { accountJson, accountOrder, accountView, pageStart } from './app.ts';

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

describe("an account's JSON in the listing", () => {
  const full = (mods: Partial<AccountState> = {}): AccountState =>
    ({
      kind: 'tool',
      name: 'a',
      status: 'active',
      serial: '0a1b',
      fingerprint: 'ff00',
      notAfter: new Date('2027-01-01T00:00:00Z'),
      epoch: 3,
      lastChange: new Date('2026-12-01T00:00:00Z'),
      ...mods,
    }) as AccountState;
  it.each<[string, AccountState]>([
    ['an active tool', full()],
    ['a revoked one, no certificate', full({ status: 'revoked', serial: undefined, notAfter: undefined })],
    ['one with an error', full({ status: 'error', lastError: 'signer "x" refused: "quoted"' })],
  ])('%s: the view, serialised', (_name, s) => {
    expect(JSON.parse(accountJson(s))).toEqual(accountView(s));
    expect(accountJson(s)).toBe(JSON.stringify(accountView(s)));
  });
  it('follows a state that changed (a new record)', () => {
    const before = full();
    expect(accountJson(before)).toContain('"state":"active"');
    expect(accountJson({ ...before, status: 'locked' })).toContain('"state":"locked"');
  });
});
