import { describe, expect, it } from '@jest/globals';
import type { Account } from '../model/account.ts';
import { certificateGroups, certificateUser, IssueError } from './issuer.ts';

const account = (uid: string): Account => ({
  kind: 'tool',
  name: 'foo',
  uid,
  uidNumber: 52_000,
  gidNumber: 52_000,
  home: '/data/project/foo',
  locked: false,
  dn: 'cn=tools.foo,ou=people,ou=servicegroups,dc=x',
});

describe('certificateUser: the last check before a CSR is built', () => {
  const cases: [string, string, boolean][] = [
    ['a tool user name', 'tools.foo', true],
    ['an admin uid', 'alice', true],
    ['system:kube-controller-manager', 'system:kube-controller-manager', false],
    ['system:masters', 'system:masters', false],
    ['a name with a colon', 'tools:foo', false],
    ['an empty name', '', false],
  ];
  it.each(cases)('%s: issued %s', (_, uid, ok) => {
    if (ok) expect(certificateUser(account(uid))).toBe(uid);
    else expect(() => certificateUser(account(uid))).toThrow(IssueError);
  });

  it('says why, with a reason code', () => {
    try {
      certificateUser(account('system:masters'));
    } catch (err) {
      expect(err).toMatchObject({ reason: 'invalid-user-name' });
    }
    expect.assertions(1);
  });
});

describe('certificateGroups', () => {
  it('refuses a system: group from the configured extras, with a reason code', () => {
    expect(() =>
      certificateGroups(account('tools.foo'), 'kubeusers', 'kubeusers:kubeusers:tool:foo:1-0a', [
        'system:masters',
      ]),
    ).toThrow(expect.objectContaining({ reason: 'privileged-group' }));
  });
});
