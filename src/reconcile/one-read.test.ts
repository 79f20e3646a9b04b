import { describe, expect, it } from '@jest/globals';
import type { Account, OneRead, Skipped } from '../model/account.ts';
import { oneRead } from './sync.ts';

const alpha: Account = {
  kind: 'tool',
  name: 'alpha',
  uid: 'tools.alpha',
  uidNumber: 5001,
  gidNumber: 5001,
  home: '/data/project/alpha',
  locked: false,
  dn: 'cn=tools.alpha,ou=people',
};
const skipped: Skipped = {
  kind: 'tool',
  name: 'alpha',
  dn: alpha.dn,
  reason: 'missing-home',
  message: 'no home',
};
const one = { kind: 'tool' as const, name: 'alpha' };

describe('oneRead', () => {
  const cases: [string, OneRead, ReturnType<typeof oneRead>][] = [
    [
      'found: the account alone',
      { found: alpha },
      { snapshot: { accounts: [alpha], skipped: [] }, partial: {} },
    ],
    [
      'skipped as a full read would',
      { skipped },
      { snapshot: { accounts: [], skipped: [skipped] }, partial: {} },
    ],
    [
      'not found: undecided, left to a full read',
      { undecided: 'not-found' },
      { snapshot: { accounts: [], skipped: [] }, partial: { undecided: 'tool/alpha: not-found' } },
    ],
    [
      'a shared uid number: undecided',
      { undecided: 'shared-uid-number' },
      { snapshot: { accounts: [], skipped: [] }, partial: { undecided: 'tool/alpha: shared-uid-number' } },
    ],
  ];
  it.each(cases)('%s', (_, read, want) => expect(oneRead(one, read)).toEqual(want));
});
