// The desired objects, derived once: decide's plan and the bindings written around an issuance or a
// revocation are the same objects, and a state alone rebuilds them when the directory is unreachable.
import { describe, expect, it } from '@jest/globals';
import { legacyEpochGroup } from './names.ts';
import { accountFromState, currentGroup, type AccountState } from './state.ts';
import { account, state as legacyState } from './decide-fixtures.ts';
import {
  DesiredMemo,
  desiredObjects,
  grantObjects,
  subjectsFor,
  summarize,
  type DesiredSettings,
} from './desired.ts';
import type { Account } from './account.ts';

const s: DesiredSettings = {
  instance: 'prod',
  namespacePrefix: 'tool-',
  toolClusterRole: 'kubeusers-tool',
  adminClusterRoles: ['view', 'kubeusers-admin'],
  resources: { quota: { pods: '4' }, limitRange: [{ type: 'Container' }] },
  overrides: { foo: { version: 2, quota: { pods: '8' } } },
};

const state = (mods: Partial<AccountState> = {}): AccountState => {
  const base = legacyState({ epochId: '3-abc' });
  return { ...base, certGroup: currentGroup(s.instance, base), ...mods };
};

const admin = account({ kind: 'admin', name: 'alice', uid: 'alice', home: '/home/alice' });
const adminState = state({ kind: 'admin', name: 'alice', uid: 'alice', home: '/home/alice' });

describe('desiredObjects', () => {
  it.each([
    ['a tool', account(), state(), ['Namespace', 'ResourceQuota', 'LimitRange', 'RoleBinding']],
    ['an admin', admin, adminState, ['ClusterRoleBinding', 'ClusterRoleBinding']],
  ])('%s: %j', (_name, a, st, kinds) => {
    expect(desiredObjects(a, st, s).map((o) => o.kind)).toEqual(kinds);
  });

  it.each([
    ['a tool', account(), state()],
    ['a locked-out tool being restored', account(), state({ status: 'locked' })],
    ['an admin', admin, adminState],
  ])('%s: rebuilt from its state alone, the same objects', (_name, a, st) => {
    expect(desiredObjects(accountFromState({ ...st, status: 'active' }), st, s)).toEqual(
      desiredObjects(a, st, s),
    );
  });
});

describe('grantObjects', () => {
  it.each([
    ['a tool', account(), state()],
    ['an admin', admin, adminState],
    [
      "a tool bound by maintain-kubeusers' name",
      account(),
      state({ legacyUser: 'foo', certGroup: undefined }),
    ],
  ])('%s: exactly the bindings decide plans', (_name, a, st) => {
    const desired = desiredObjects(a, st, s);
    expect(grantObjects(a, st, s)).toEqual(desired.filter((o) => o.kind!.endsWith('RoleBinding')));
  });
});

describe('subjectsFor', () => {
  it.each<[string, AccountState, { kind: string; name: string }[]]>([
    ['the current epoch group', state(), [{ kind: 'Group', name: currentGroup('prod', state()) }]],
    [
      'plus an adopted legacy user',
      state({ legacyUser: 'foo' }),
      [
        { kind: 'Group', name: currentGroup('prod', state()) },
        { kind: 'User', name: 'foo' },
      ],
    ],
    [
      "both groups while a previous release's certificate is renewed",
      legacyState({ epochId: '3-abc' }),
      [
        { kind: 'Group', name: currentGroup('prod', state()) },
        { kind: 'Group', name: legacyEpochGroup('tool', 'foo', 3) },
      ],
    ],
  ])('%s', (_name, st, subjects) => {
    expect(subjectsFor('prod', st)).toEqual(subjects);
  });
});

describe('DesiredMemo', () => {
  const fresh = (a: Account, st: AccountState, settings = s) =>
    desiredObjects(a, st, settings).map(summarize);
  const alteredSettings: DesiredSettings = { ...s, resources: { ...s.resources, quota: { pods: '5' } } };
  // Each case: a first call, then a second with something changed; the second must equal a fresh build.
  it.each<[string, Account, AccountState, DesiredSettings]>([
    ['nothing changed', account(), state(), s],
    ['a new uid number', account({ uidNumber: 5001 }), state(), s],
    ['a new home', account({ home: '/data/project/other' }), state(), s],
    ['a new epoch', account(), state({ epoch: 9, epochId: '9-xyz' }), s],
    ['a legacy user adopted', account(), state({ legacyUser: 'foo', certGroup: undefined }), s],
    ['other settings (a new object, same instance)', account(), state(), alteredSettings],
  ])('%s: what it answers is what a fresh build gives', (_name, a, st, settings) => {
    const memo = new DesiredMemo();
    expect(memo.summaries(account(), state(), s)).toEqual(fresh(account(), state()));
    expect(memo.summaries(a, st, settings)).toEqual(fresh(a, st, settings));
  });

  it('answers an unchanged account from what it kept, and forgets accounts not retained', () => {
    const memo = new DesiredMemo();
    const first = memo.summaries(account(), state(), s);
    expect(memo.summaries(account(), state(), s)).toBe(first);
    memo.summaries(admin, adminState, s);
    memo.retain(new Set(['admin/alice']));
    expect(memo.size).toBe(1);
    expect(memo.summaries(account(), state(), s)).not.toBe(first);
  });

  it.each<[string, (a: Account, st: AccountState) => [Account, AccountState], 'kept' | 'fresh']>([
    ['the very objects of last time', (a, st) => [a, st], 'kept'],
    ['the same account object, an equal new state', (a, st) => [a, { ...st }], 'kept'],
    ['an equal new account, the same state object', (a, st) => [{ ...a }, st], 'kept'],
    [
      'the same account object, a state of a new epoch',
      (a, st) => [a, { ...st, epoch: 9, epochId: '9-xyz' }],
      'fresh',
    ],
    [
      'the same state object, an account with a new home',
      (a, st) => [{ ...a, home: '/data/x' }, st],
      'fresh',
    ],
  ])('%s: %s', (_name, next, want) => {
    const memo = new DesiredMemo();
    const [a, st] = [account(), state()];
    const first = memo.summaries(a, st, s);
    const [a2, st2] = next(a, st);
    const second = memo.summaries(a2, st2, s);
    expect(second).toEqual(fresh(a2, st2));
    if (want === 'kept') expect(second).toBe(first);
    else expect(second).not.toBe(first);
    // Asked again with the same objects, the answer is the one just given.
    expect(memo.summaries(a2, st2, s)).toBe(second);
  });
});
