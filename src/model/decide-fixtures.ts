// The account and state the decide tables start from (tests only; not built into dist/).
import type { Account } from './account.ts';
import type { AccountState } from './state.ts';

/** A fixed draw for tests that do not look at epoch ids. */
export const fixedRandom = { epochSuffix: (): string => '00000000000000ff' };

export const NOW = new Date('2026-06-01T00:00:00Z');
export const HOUR = 3_600_000;

/** Tool `foo` as the directory gives it. */
export const account = (mods: Partial<Account> = {}): Account => ({
  kind: 'tool',
  name: 'foo',
  uid: 'tools.foo',
  uidNumber: 52_000,
  gidNumber: 52_000,
  home: '/data/project/foo',
  locked: false,
  dn: 'cn=tools.foo,ou=people,ou=servicegroups,dc=x',
  ...mods,
});

/** An active state of epoch 3 with a certificate in its first third, as the previous release wrote it (no epoch id). */
export const state = (mods: Partial<AccountState> = {}): AccountState => ({
  kind: 'tool',
  name: 'foo',
  uid: 'tools.foo',
  uidNumber: 52_000,
  gidNumber: 52_000,
  home: '/data/project/foo',
  epoch: 3,
  certEpoch: 3,
  status: 'active',
  serial: 'ab',
  fingerprint: 'ff',
  notBefore: new Date(NOW.getTime() - 10 * HOUR),
  notAfter: new Date(NOW.getTime() + 20 * HOUR),
  failures: 0,
  lastChange: NOW,
  ...mods,
});
