import { describe, expect, it } from '@jest/globals';
import type { Account } from './account.ts';
import {
  isLocked,
  isSafeUserName,
  isUnder,
  mapAdmin,
  mapEntries,
  mapTool,
  type MappingRules,
  type RawEntry,
} from './mapping.ts';
import { uidOfDn } from '../directory/ldap.ts';

const rules: MappingRules = {
  project: 'tools',
  homesRoot: '/data/project',
  adminHomesRoot: '/home',
  disabledPolicyDn: 'cn=disabled,ou=ppolicies,dc=x',
  attributes: { uid: 'uid', uidNumber: 'uidNumber', gidNumber: 'gidNumber', homeDirectory: 'homeDirectory' },
  minUidNumber: 1000,
  minGidNumber: 1000,
};

const tool = (name: string, mods: Record<string, unknown> = {}): RawEntry => ({
  dn: `cn=tools.${name},ou=people,ou=servicegroups,dc=x`,
  cn: `tools.${name}`,
  uid: `tools.${name}`,
  uidNumber: '52000',
  gidNumber: '52000',
  homeDirectory: `/data/project/${name}`,
  ...mods,
});

describe('mapTool', () => {
  const skips: [string, RawEntry, string][] = [
    ['upper case', tool('Foo'), 'invalid-name'],
    ['underscore', tool('a_b'), 'invalid-name'],
    ['leading dash', tool('-a'), 'invalid-name'],
    ['55 characters', tool('a'.repeat(55)), 'name-too-long'],
    ['no uidNumber', tool('a', { uidNumber: [] }), 'missing-uid-number'],
    ['a non-numeric uidNumber', tool('a', { uidNumber: '12x' }), 'missing-uid-number'],
    ['no gidNumber', tool('a', { gidNumber: undefined }), 'missing-gid-number'],
    ['no home', tool('a', { homeDirectory: '' }), 'missing-home'],
    ['a home outside the root', tool('a', { homeDirectory: '/etc/a' }), 'home-outside-root'],
    ['a home that climbs out', tool('a', { homeDirectory: '/data/project/../../etc' }), 'home-outside-root'],
    ['the root itself as home', tool('a', { homeDirectory: '/data/project' }), 'home-outside-root'],
    ['a relative home', tool('a', { homeDirectory: 'data/project/a' }), 'home-outside-root'],
    ['uidNumber 0 (root)', tool('a', { uidNumber: '0' }), 'uid-number-too-low'],
    ['gidNumber 0 (root)', tool('a', { gidNumber: '0' }), 'gid-number-too-low'],
    ['uidNumber 999, below the minimum', tool('a', { uidNumber: '999' }), 'uid-number-too-low'],
    ['gidNumber 999, below the minimum', tool('a', { gidNumber: '999' }), 'gid-number-too-low'],
    [
      'uid system:kube-controller-manager',
      tool('a', { uid: 'system:kube-controller-manager' }),
      'invalid-user-name',
    ],
    ['uid system:masters', tool('a', { uid: 'system:masters' }), 'invalid-user-name'],
    ["another tool's uid", tool('a', { uid: 'tools.b' }), 'invalid-user-name'],
    ["another project's uid", tool('a', { uid: 'other.a' }), 'invalid-user-name'],
    ['a plain uid', tool('a', { uid: 'a' }), 'invalid-user-name'],
    ['an upper-case uid', tool('a', { uid: 'Tools.a' }), 'invalid-user-name'],
  ];
  it.each(skips)('skips a tool with %s', (_, entry, reason) => {
    const r = mapTool(entry, rules);
    expect('skip' in r && r.skip.reason).toBe(reason);
  });

  const kept: [string, RawEntry, Partial<Account>][] = [
    [
      'uid and gid numbers at the minimum',
      tool('a', { uidNumber: '1000', gidNumber: '1000' }),
      { uidNumber: 1000 },
    ],
    ['no uid attribute: the user name is derived', tool('a', { uid: undefined }), { uid: 'tools.a' }],
    ['the expected uid', tool('a'), { uid: 'tools.a' }],
  ];
  it.each(kept)('maps a tool with %s', (_, entry, expected) => {
    const r = mapTool(entry, rules);
    expect('ok' in r && r.ok).toMatchObject(expected);
  });

  it('takes the floors from the rules', () => {
    const low = { ...rules, minUidNumber: 1, minGidNumber: 1 };
    expect('ok' in mapTool(tool('a', { uidNumber: '999', gidNumber: '999' }), low)).toBe(true);
    expect('skip' in mapTool(tool('a', { uidNumber: '0' }), low)).toBe(true);
  });

  it('maps a good entry, with 54 characters allowed', () => {
    const r = mapTool(tool('a'.repeat(54)), rules);
    expect('ok' in r && r.ok).toMatchObject({
      kind: 'tool',
      name: 'a'.repeat(54),
      uidNumber: 52_000,
      locked: false,
    });
  });
});

describe('mapAdmin', () => {
  const person = (uid: string, mods: Record<string, unknown> = {}): RawEntry => ({
    dn: `uid=${uid},ou=people,dc=x`,
    uid,
    uidNumber: '40000',
    gidNumber: '40000',
    homeDirectory: `/home/${uid}`,
    ...mods,
  });
  const cases: [string, RawEntry, string | undefined][] = [
    ['a plain uid', person('alice'), undefined],
    ['uid system:admin', person('system:admin'), 'invalid-name'],
    ['a uid with a dot', person('a.b'), 'invalid-name'],
    ['uidNumber 0', person('root', { uidNumber: '0' }), 'uid-number-too-low'],
    ['gidNumber 0', person('wheel', { gidNumber: '0' }), 'gid-number-too-low'],
  ];
  it.each(cases)('%s: %s', (_, entry, reason) => {
    const r = mapAdmin(entry, rules);
    expect('skip' in r ? r.skip.reason : undefined).toBe(reason);
  });
});

describe('isSafeUserName', () => {
  const cases: [string, boolean][] = [
    ['tools.foo', true],
    ['alice', true],
    ['system:masters', false],
    ['system:kube-controller-manager', false],
    ['a:b', false],
    ['Alice', false],
    ['', false],
    ['-a', false],
    ['a.', false],
    ['a b', false],
    ['x'.repeat(254), false],
  ];
  it.each(cases)('%s: %s', (name, ok) => expect(isSafeUserName(name)).toBe(ok));
});

describe('isLocked', () => {
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['no ppolicy attributes', {}, false],
    ['a lock time', { pwdAccountLockedTime: '20260101000000Z' }, true],
    ['marked for deletion', { pwdAccountLockedTime: '000001010000Z' }, true],
    ['the disabled policy alone', { pwdPolicySubentry: 'CN=disabled,ou=ppolicies,dc=x' }, true],
    ['another policy', { pwdPolicySubentry: 'cn=default,ou=ppolicies,dc=x' }, false],
    ['an empty lock time list', { pwdAccountLockedTime: [] }, false],
  ];
  it.each(cases)('%s', (_, attrs, locked) =>
    expect(isLocked({ dn: 'x', ...attrs }, rules.disabledPolicyDn)).toBe(locked),
  );
});

describe('mapEntries', () => {
  it('skips a hostile entry for its own reason, without touching the account whose uid it copies', () => {
    const r = mapEntries('tool', [tool('b'), tool('a', { uid: 'tools.b', uidNumber: '52001' })], rules);
    expect(r.accounts.map((a) => a.name)).toEqual(['b']);
    expect(r.skipped.map((s) => [s.name, s.reason])).toEqual([['a', 'invalid-user-name']]);
  });

  it('drops every account that shares a name or uid number, and keeps the rest', () => {
    const r = mapEntries(
      'tool',
      [tool('a'), tool('b', { uidNumber: '52000' }), tool('c', { uidNumber: '52003' })],
      rules,
    );
    expect(r.accounts.map((a) => a.name)).toEqual(['c']);
    expect(r.skipped.map((s) => [s.name, s.reason])).toEqual([
      ['a', 'duplicate-uid'],
      ['b', 'duplicate-uid'],
    ]);
  });
});

describe('paths and DNs', () => {
  const under: [string, string, boolean][] = [
    ['/data/project/a', '/data/project', true],
    ['/data/project/a/', '/data/project/', true],
    ['/data/projects/a', '/data/project', false],
    ['/data/project/./a', '/data/project', false],
  ];
  it.each(under)('%s under %s: %s', (p, root, ok) => expect(isUnder(p, root)).toBe(ok));

  const dns: [string, string | undefined][] = [
    ['uid=alice,ou=people,dc=x', 'alice'],
    ['UID=bob,ou=people,dc=x', 'bob'],
    ['uid=a\\,b,ou=people,dc=x', 'a,b'],
    ['cn=svc,ou=profile,dc=x', undefined],
  ];
  it.each(dns)('uid of %s is %s', (dn, uid) => expect(uidOfDn(dn)).toBe(uid));
});
