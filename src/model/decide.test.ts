import { describe, expect, it } from '@jest/globals';
import type { AccountState } from './state.ts';
import {
  decide,
  issueReason,
  guardLimit,
  removalLimit,
  type AccountInput,
  type DecideSettings,
  type Step,
} from './decide.ts';
import { observe, observedKey, type ObservedObject } from './observed.ts';
import { toolNamespaceObject } from './manifests.ts';
import { DesiredMemo } from './desired.ts';
import { account, fixedRandom, HOUR, NOW, state } from './decide-fixtures.ts';

const settings: DecideSettings = {
  instance: 'kubeusers',
  namespacePrefix: 'tool-',
  toolClusterRole: 'kubeusers-tool',
  adminClusterRoles: ['view'],
  resources: { quota: { pods: '4' }, limitRange: [{ type: 'Container' }] },
  overrides: {},
  renewal: { renewFraction: 2 / 3, jitterFraction: 0 },
};

/** Every object of a healthy tool, as the cluster would list it. */
function healthy(a = account(), st = state()): Map<string, ObservedObject> {
  const plan = decide(
    { kind: 'tool', name: a.name, skipped: false, account: a, state: st, observed: new Map() },
    NOW,
    settings,
    fixedRandom,
  );
  const m = new Map<string, ObservedObject>();
  for (const step of plan.steps) {
    if (step.do !== 'apply') continue;
    const o = step.object;
    m.set(observedKey(o.kind!, o.metadata.namespace, o.metadata.name), observe(o));
  }
  return m;
}

/** The healthy objects, with the RoleBinding's summary changed. */
const withBinding = (mods: Partial<ObservedObject>): Map<string, ObservedObject> =>
  new Map([...healthy()].map(([k, o]) => [k, o.kind === 'RoleBinding' ? { ...o, ...mods } : o]));

const input = (mods: Partial<AccountInput> = {}): AccountInput => ({
  kind: 'tool',
  name: 'foo',
  skipped: false,
  account: account(),
  state: state(),
  observed: healthy(),
  ...mods,
});
/** What an earlier release kept in every tool namespace: the pod-identity policy's parameters. */
function withLegacyParams(m: Map<string, ObservedObject>): Map<string, ObservedObject> {
  const legacy: ObservedObject = {
    kind: 'ConfigMap',
    name: 'kubeusers-pod-identity',
    namespace: 'tool-foo',
    hash: 'old',
    digest: 'old',
    terminating: false,
  };
  return new Map([...m, [observedKey(legacy.kind, legacy.namespace, legacy.name), legacy]]);
}
const kinds = (steps: Step[]) =>
  steps.map((s) =>
    s.do === 'apply' || s.do === 'revert'
      ? `${s.do} ${s.object.kind}`
      : s.do === 'delete'
        ? `delete ${s.ref.kind}`
        : s.do === 'issue'
          ? `issue ${s.reason}`
          : s.do,
  );

describe('decide', () => {
  const cases: [string, AccountInput, string[]][] = [
    ['an up-to-date tool needs nothing', input(), []],
    [
      'a new tool: state first, then objects, then a certificate',
      input({ state: undefined, observed: new Map() }),
      [
        'save-state',
        'apply Namespace',
        'apply ResourceQuota',
        'apply LimitRange',
        'apply RoleBinding',
        'adopt-or-issue',
      ],
    ],
    [
      'an interrupted issuance checks the home first',
      input({ state: state({ issuing: NOW }) }),
      ['adopt-or-issue'],
    ],
    [
      'a due certificate is renewed',
      input({
        state: state({
          notBefore: new Date(NOW.getTime() - 20 * HOUR),
          notAfter: new Date(NOW.getTime() + 5 * HOUR),
        }),
      }),
      ['issue due'],
    ],
    [
      'an expired certificate is renewed',
      input({ state: state({ notAfter: new Date(NOW.getTime() - HOUR) }) }),
      ['issue expired'],
    ],
    [
      'a certificate that is not valid yet is replaced',
      input({ state: state({ notBefore: new Date(NOW.getTime() + HOUR) }) }),
      ['issue not-yet-valid'],
    ],
    [
      // (a previous release's state with no working certificate takes a new-form epoch id at once)
      'a certificate of an old epoch is replaced',
      input({ state: state({ certEpoch: 2 }) }),
      ['save-state', 'apply RoleBinding', 'issue old-epoch'],
    ],
    [
      'backoff holds a failed renewal',
      input({
        state: state({
          notAfter: new Date(NOW.getTime() - HOUR),
          failures: 2,
          nextAttempt: new Date(NOW.getTime() + HOUR),
        }),
      }),
      [],
    ],
    ['force reissues at once', input({ force: true }), ['issue forced']],
    [
      'a binding whose content changed under the spec-hash kubeusers wrote is put back',
      input({ observed: withBinding({ digest: 'someone-else-wrote' }) }),
      ['revert RoleBinding'],
    ],
    [
      'a binding written for an older desired state is applied',
      input({ observed: withBinding({ digest: 'older', hash: 'older' }) }),
      ['apply RoleBinding'],
    ],
    [
      'a binding whose content and spec-hash someone rewrote is applied all the same',
      input({ observed: withBinding({ digest: 'forged', hash: 'forged' }) }),
      ['apply RoleBinding'],
    ],
    [
      'a lock bumps the epoch, then cuts off',
      input({ account: account({ locked: true }) }),
      ['save-state', 'flag', 'delete RoleBinding', 'delete Namespace'],
    ],
    [
      'an unlock removes the flag and reissues',
      input({ state: state({ status: 'locked', epoch: 4 }) }),
      ['flag', 'save-state', 'apply RoleBinding', 'issue old-epoch'],
    ],
    [
      'a removed tool loses its objects and state',
      input({ account: undefined }),
      ['delete RoleBinding', 'delete Namespace', 'remove-state'],
    ],
    ['a skipped entry is left alone', input({ account: undefined, skipped: true }), []],
    [
      "an earlier release's pod-identity ConfigMap is deleted (the policy reads the namespace now)",
      input({ observed: withLegacyParams(healthy()) }),
      ['delete ConfigMap'],
    ],
    [
      'a new uid relabels the namespace the pod-identity policy reads',
      input({ account: account({ uidNumber: 52_001 }) }),
      ['save-state', 'apply Namespace'],
    ],
  ];
  it.each(cases)('%s', (_, i, expected) => {
    expect(kinds(decide(i, NOW, settings, fixedRandom).steps)).toEqual(expected);
  });

  // The daemon keeps one memo across every account and sync: each case, decided after all the others
  // filled it, plans exactly what a fresh build plans.
  const shared = new DesiredMemo();
  for (const [, i] of cases) decide(i, NOW, settings, fixedRandom, shared);
  it.each(cases)('%s: the same plan with a memo kept across accounts and syncs', (_, i) => {
    const once = decide(i, NOW, settings, fixedRandom, shared);
    expect(decide(i, NOW, settings, fixedRandom, shared)).toEqual(once);
    expect(once).toEqual(decide(i, NOW, settings, fixedRandom));
  });

  it('saves the bumped epoch before deleting anything when locking', () => {
    const plan = decide(input({ account: account({ locked: true }) }), NOW, settings, fixedRandom);
    expect(plan.steps[0]).toMatchObject({ do: 'save-state', state: { status: 'locked', epoch: 4 } });
  });

  it('marks only removals for the guard', () => {
    expect(decide(input({ account: undefined }), NOW, settings, fixedRandom).removal).toBe(true);
    expect(decide(input({ account: account({ locked: true }) }), NOW, settings, fixedRandom).removal).toBe(
      false,
    );
  });

  it('waits while a namespace is still terminating', () => {
    const ns = toolNamespaceObject(account(), settings);
    const observed = new Map([
      [
        observedKey('Namespace', undefined, ns.metadata.name),
        { kind: 'Namespace', name: ns.metadata.name, digest: '', terminating: true },
      ],
    ]);
    const plan = decide(input({ observed, state: state({ status: 'locked' }) }), NOW, settings, fixedRandom);
    expect(plan.steps).toEqual([]);
    expect(plan.nextDue).toEqual(new Date(NOW.getTime() + 5_000));
  });

  it('binds an adopted legacy user until the certificate is replaced', () => {
    const plan = decide(
      input({ state: state({ legacyUser: 'foo', certEpoch: undefined }), observed: new Map() }),
      NOW,
      settings,
      fixedRandom,
    );
    const rb = plan.steps.find((s) => s.do === 'apply' && s.object.kind === 'RoleBinding');
    expect(rb && rb.do === 'apply' && (rb.object as unknown as { subjects: unknown[] }).subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'kubeusers:tool:foo:3' },
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'foo' },
    ]);
  });

  it('re-applies quota when an override version is bumped', () => {
    const bumped = { ...settings, overrides: { foo: { version: 2 } } };
    const plan = decide(input(), NOW, bumped, fixedRandom);
    expect(kinds(plan.steps)).toEqual(['apply ResourceQuota', 'apply LimitRange']);
  });
});

describe('issueReason', () => {
  const cases: [string, Partial<AccountState>, string | undefined][] = [
    ['no certificate', { serial: undefined }, 'new'],
    ['fresh', {}, undefined],
    ['changed user name', { uid: 'old.name' }, 'subject-changed'],
    ['starts an hour from now', { notBefore: new Date(NOW.getTime() + HOUR) }, 'not-yet-valid'],
    [
      'starts 30 s from now, within the tolerance',
      { notBefore: new Date(NOW.getTime() + 30_000) },
      undefined,
    ],
    [
      'not valid yet and of an old epoch',
      { notBefore: new Date(NOW.getTime() + HOUR), certEpoch: 2 },
      'not-yet-valid',
    ],
  ];
  it.each(cases)('%s', (_, mods, reason) =>
    expect(issueReason(state(mods), account(), NOW, settings)).toBe(reason),
  );
});

describe('removalLimit', () => {
  const cases: [number, number][] = [
    [0, 10],
    [60, 10],
    [200, 10],
    [1_000, 50],
    [3_500, 175],
  ];
  it.each(cases)('allows removals of %i accounts up to %i', (n, limit) =>
    expect(removalLimit(n, { maxFraction: 0.05, minCount: 10 })).toBe(limit),
  );
});

describe('guardLimit', () => {
  const g = { maxFraction: 0.05, minCount: 10 };
  const cases: [string, Parameters<typeof guardLimit>[0], number | undefined][] = [
    [
      'a few tools gone of many',
      { removals: 3, states: { tool: 3_500, admin: 5 }, directory: { tool: 3_497, admin: 5 } },
      undefined,
    ],
    [
      'more than 5 % of the accounts gone',
      { removals: 200, states: { tool: 3_500, admin: 5 }, directory: { tool: 3_300, admin: 5 } },
      175,
    ],
    [
      'no tool in the directory while tools are managed',
      { removals: 3, states: { tool: 3, admin: 0 }, directory: { tool: 0, admin: 0 } },
      0,
    ],
    [
      'no admin in the directory while admins are managed (the group read empty)',
      { removals: 5, states: { tool: 3_500, admin: 5 }, directory: { tool: 3_500, admin: 0 } },
      0,
    ],
    [
      'the directory answers no admin and none is managed',
      { removals: 1, states: { tool: 100, admin: 0 }, directory: { tool: 99, admin: 0 } },
      undefined,
    ],
    [
      'nothing to remove',
      { removals: 0, states: { tool: 10, admin: 1 }, directory: { tool: 10, admin: 1 } },
      undefined,
    ],
  ];
  it.each(cases)('%s', (_, input, limit) => expect(guardLimit(input, g)).toBe(limit));
});
