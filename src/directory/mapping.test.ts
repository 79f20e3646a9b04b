import { describe, expect, it } from '@jest/globals';
import { isLocked, isUnder, mapEntries, mapTool, type MappingRules, type RawEntry } from './mapping.ts';
import { uidOfDn } from './ldap.ts';

const rules: MappingRules = {
  project: 'tools',
  homesRoot: '/data/project',
  adminHomesRoot: '/home',
  disabledPolicyDn: 'cn=disabled,ou=ppolicies,dc=x',
  attributes: { uid: 'uid', uidNumber: 'uidNumber', gidNumber: 'gidNumber', homeDirectory: 'homeDirectory' },
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
  ];
  it.each(skips)('skips a tool with %s', (_, entry, reason) => {
    const r = mapTool(entry, rules);
    expect('skip' in r && r.skip.reason).toBe(reason);
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
