import { describe, expect, it } from '@jest/globals';
import type { Account } from './account.ts';
import { parseEpochGroup } from './names.ts';
import {
  boundGroups,
  certIsCurrent,
  currentGroup,
  initialState,
  nextEpoch,
  parseState,
  stateConfigMap,
  withEpochId,
  type AccountState,
} from './state.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const I = 'kubeusers';

const account: Account = {
  kind: 'tool',
  name: 'foo',
  uid: 'tools.foo',
  uidNumber: 52_000,
  gidNumber: 52_000,
  home: '/data/project/foo',
  locked: false,
  dn: 'cn=tools.foo,ou=people,ou=servicegroups,dc=x',
};

/** A state as the previous release wrote it: no epoch id, the legacy group in the certificate. */
const legacy = (mods: Partial<AccountState> = {}): AccountState => ({
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
  failures: 0,
  lastChange: NOW,
  ...mods,
});

/** A state of this release, its certificate issued in its current epoch. */
const current = (mods: Partial<AccountState> = {}): AccountState =>
  legacy({ epochId: '3-aaaa', certGroup: 'kubeusers:kubeusers:tool:foo:3-aaaa', ...mods });

describe('parseEpochGroup', () => {
  const cases: [string, ReturnType<typeof parseEpochGroup>][] = [
    [
      'kubeusers:prod:tool:foo:3-0123abcd',
      { form: 'current', instance: 'prod', kind: 'tool', name: 'foo', epochId: '3-0123abcd' },
    ],
    ['kubeusers:tool:foo:3', { form: 'legacy', kind: 'tool', name: 'foo', epoch: 3 }],
    ['kubeusers:admin:alice:12', { form: 'legacy', kind: 'admin', name: 'alice', epoch: 12 }],
    ['kubeusers:tools', undefined],
    ['kubeusers:prod:tools', undefined],
    ['kubeusers:prod:tool:foo:3', undefined],
    ['kubeusers:tool:foo:3-abc', undefined],
    ['toolforge', undefined],
  ];
  it.each(cases)('%s', (group, expected) => expect(parseEpochGroup(group)).toEqual(expected));
});

describe('epoch transitions draw a new id every time', () => {
  const cases: [string, AccountState, Partial<AccountState>][] = [
    ['a fresh state', initialState(account, NOW, 'r1'), { epoch: 1, epochId: '1-r1' }],
    ['a revocation or lock', nextEpoch(current(), 'r2', NOW), { epoch: 4, epochId: '4-r2' }],
    ["a lock of a previous release's state", nextEpoch(legacy(), 'r3', NOW), { epoch: 4, epochId: '4-r3' }],
    ["a previous release's state at its renewal", withEpochId(legacy(), 'r4'), { epoch: 3, epochId: '3-r4' }],
    ['an id is never replaced in the same epoch', withEpochId(current(), 'r5'), { epochId: '3-aaaa' }],
  ];
  it.each(cases)('%s', (_, state, expected) => expect(state).toMatchObject(expected));
});

describe('the groups bound, and whether the certificate is current', () => {
  const cases: [string, AccountState, string[], boolean][] = [
    ['this release, current', current(), ['kubeusers:kubeusers:tool:foo:3-aaaa'], true],
    ["a previous release's state keeps its legacy group", legacy(), ['kubeusers:tool:foo:3'], true],
    [
      "a previous release's certificate being renewed: both, for the time the files change",
      withEpochId(legacy(), 'bbbb'),
      ['kubeusers:kubeusers:tool:foo:3-bbbb', 'kubeusers:tool:foo:3'],
      false,
    ],
    [
      'after a revocation of a legacy certificate: only the new group',
      nextEpoch(legacy(), 'cccc', NOW),
      ['kubeusers:kubeusers:tool:foo:4-cccc'],
      false,
    ],
    [
      'a revoked state binds no certificate it has',
      withEpochId(legacy({ status: 'revoked' }), 'dddd'),
      ['kubeusers:kubeusers:tool:foo:3-dddd'],
      false,
    ],
    [
      'a re-added account (fresh state) never binds the old group',
      initialState(account, NOW, 'eeee'),
      ['kubeusers:kubeusers:tool:foo:1-eeee'],
      false,
    ],
    [
      'a certificate of an id drawn before is not current',
      current({ epochId: '3-ffff' }),
      ['kubeusers:kubeusers:tool:foo:3-ffff'],
      false,
    ],
    [
      "maintain-kubeusers' certificate, bound by user name",
      legacy({ certEpoch: undefined, legacyUser: 'foo' }),
      ['kubeusers:tool:foo:3'],
      true,
    ],
  ];
  it.each(cases)('%s', (_, state, groups, isCurrent) => {
    expect(boundGroups(I, state)).toEqual(groups);
    expect(certIsCurrent(I, state)).toBe(isCurrent);
  });

  it('names the installation in the current group', () => {
    expect(currentGroup('staging', current())).toBe('kubeusers:staging:tool:foo:3-aaaa');
  });
});

describe('state round trip', () => {
  it('keeps the epoch id and the exact group of the certificate', () => {
    const s = current();
    expect(parseState(stateConfigMap('kubeusers', s))).toEqual(s);
  });

  it("reads a previous release's state as legacy", () => {
    const parsed = parseState(stateConfigMap('kubeusers', legacy()));
    expect(parsed?.epochId).toBeUndefined();
    expect(boundGroups(I, parsed!)).toEqual(['kubeusers:tool:foo:3']);
  });

  it('drops an epoch id that is not of the form <epoch>-<random>', () => {
    const cm = stateConfigMap('kubeusers', current());
    const parsed = parseState({ ...cm, data: { ...cm.data, epochId: 'x:y' } });
    expect(parsed?.epochId).toBeUndefined();
  });
});
