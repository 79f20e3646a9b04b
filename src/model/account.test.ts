import { describe, expect, it } from '@jest/globals';
import { KnownAccounts, sameAccount, type Account } from './account.ts';

const a = (mods: Partial<Account> = {}): Account => ({
  kind: 'tool',
  name: 'foo',
  uid: 'tools.foo',
  uidNumber: 5000,
  gidNumber: 5000,
  home: '/data/project/foo',
  locked: false,
  dn: 'uid=tools.foo,ou=people,dc=example',
  ...mods,
});

describe('sameAccount', () => {
  it.each<[string, Partial<Account>, boolean]>([
    ['equal in every field', {}, true],
    ['locked', { locked: true }, false],
    ['another uid number', { uidNumber: 5001 }, false],
    ['another gid number', { gidNumber: 5001 }, false],
    ['another home', { home: '/data/project/bar' }, false],
    ['another DN', { dn: 'uid=x' }, false],
    ['another uid', { uid: 'tools.bar' }, false],
  ])('%s: %s', (_name, mods, want) => {
    expect(sameAccount(a(), a(mods))).toBe(want);
  });

  it('tells a field one side has and the other lacks (one added later)', () => {
    expect(sameAccount(a(), { ...a(), extra: 1 } as Account)).toBe(false);
  });
});

describe('KnownAccounts', () => {
  it('gives back the kept object for an unchanged account after a completed read', () => {
    const known = new KnownAccounts();
    const first = a();
    expect(known.same(first)).toBe(first);
    known.completed();
    expect(known.same(a())).toBe(first);
  });

  it('gives the new object for a changed account, and keeps it for the next read', () => {
    const known = new KnownAccounts();
    known.same(a());
    known.completed();
    const locked = a({ locked: true });
    expect(known.same(locked)).toBe(locked);
    known.completed();
    expect(known.same(a({ locked: true }))).toBe(locked);
  });

  it('compares with the last completed read when a read is abandoned midway', () => {
    const known = new KnownAccounts();
    const first = a();
    known.same(first);
    known.completed();
    known.same(a({ home: '/data/x' }));
    known.abandoned();
    expect(known.same(a())).toBe(first);
  });

  it('forgets an account the last completed read did not see', () => {
    const known = new KnownAccounts();
    const first = a();
    known.same(first);
    known.completed();
    known.completed();
    const again = a();
    expect(known.same(again)).toBe(again);
  });
});
