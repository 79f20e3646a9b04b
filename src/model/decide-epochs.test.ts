// Epoch ids and groups in decide: never reused, naming the installation, and the upgrade from the
// previous release (legacy groups kept until the normal renewal).
import { describe, expect, it } from '@jest/globals';
import type { AccountState } from './state.ts';
import type { Random } from '../random.ts';
import { decide, type AccountInput, type AccountPlan, type DecideSettings, type Step } from './decide.ts';
import { observe, observedKey, type ObservedObject } from './observed.ts';
import { account, HOUR, NOW, state as legacy } from './decide-fixtures.ts';

const settings: DecideSettings = {
  instance: 'prod',
  namespacePrefix: 'tool-',
  toolClusterRole: 'kubeusers-tool',
  adminClusterRoles: ['view'],
  resources: { quota: { pods: '4' }, limitRange: [{ type: 'Container' }] },
  overrides: {},
  renewal: { renewFraction: 2 / 3, jitterFraction: 0 },
};

/** A fixed sequence of random draws. */
const draws = (...ids: string[]): Random => {
  let i = 0;
  return { epochSuffix: () => ids[i++] ?? 'exhausted' };
};

const DUE = { notBefore: new Date(NOW.getTime() - 20 * HOUR), notAfter: new Date(NOW.getTime() + 5 * HOUR) };

/** The cluster after a plan's applies (what the next sync would list). */
function observedAfter(plan: AccountPlan): Map<string, ObservedObject> {
  const m = new Map<string, ObservedObject>();
  for (const step of plan.steps) {
    if (step.do !== 'apply') continue;
    const o = step.object;
    m.set(observedKey(o.kind!, o.metadata.namespace, o.metadata.name), observe(o));
  }
  return m;
}

const input = (state: AccountState | undefined, mods: Partial<AccountInput> = {}): AccountInput => {
  const base = { kind: 'tool' as const, name: 'foo', skipped: false, account: account() };
  const observed = state
    ? observedAfter(decide({ ...base, state, observed: new Map() }, NOW, settings, draws()))
    : new Map<string, ObservedObject>();
  return { ...base, observed, ...(state ? { state } : {}), ...mods };
};

const subjects = (steps: Step[]): string[] =>
  steps.flatMap((s) =>
    s.do === 'apply' && s.object.kind === 'RoleBinding'
      ? (s.object as unknown as { subjects: { name: string }[] }).subjects.map((x) => x.name)
      : [],
  );
const saved = (steps: Step[]): AccountState | undefined =>
  steps.flatMap((s) => (s.do === 'save-state' ? [s.state] : []))[0];
const issuedWith = (steps: Step[]): AccountState | undefined =>
  steps.flatMap((s) => (s.do === 'issue' || s.do === 'adopt-or-issue' ? [s.state] : []))[0];
const names = (steps: Step[]): string[] =>
  steps.map((s) =>
    s.do === 'issue' ? `issue ${s.reason}` : s.do === 'apply' ? `apply ${s.object.kind}` : s.do,
  );

describe('epoch ids in decide', () => {
  it('a new account: a fresh id, saved before the certificate, bound by the RoleBinding', () => {
    const plan = decide(input(undefined), NOW, settings, draws('r1'));
    expect(saved(plan.steps)).toMatchObject({ epoch: 1, epochId: '1-r1' });
    expect(subjects(plan.steps)).toEqual(['kubeusers:prod:tool:foo:1-r1']);
    expect(issuedWith(plan.steps)?.epochId).toBe('1-r1');
    expect(plan.steps.findIndex((s) => s.do === 'save-state')).toBeLessThan(
      plan.steps.findIndex((s) => s.do === 'adopt-or-issue'),
    );
  });

  it('an account removed and re-added (its state gone) never binds its earlier group again', () => {
    const first = decide(input(undefined), NOW, settings, draws('a1'));
    const again = decide(input(undefined), NOW, settings, draws('b2'));
    expect(subjects(again.steps)).not.toEqual(subjects(first.steps));
    expect(subjects(again.steps)).toEqual(['kubeusers:prod:tool:foo:1-b2']);
  });

  it('a lock moves to the next epoch with a new id before cutting off', () => {
    const state = legacy({ epochId: '3-old', certGroup: 'kubeusers:prod:tool:foo:3-old' });
    const plan = decide(input(state, { account: account({ locked: true }) }), NOW, settings, draws('r2'));
    expect(plan.steps[0]).toMatchObject({ do: 'save-state', state: { epoch: 4, epochId: '4-r2' } });
  });

  it('an unlock binds the new epoch only: the certificate from before the lock stays unbound', () => {
    const state = legacy({
      status: 'locked',
      epoch: 4,
      epochId: '4-r2',
      certGroup: 'kubeusers:prod:tool:foo:3-old',
    });
    const plan = decide(input(undefined, { state }), NOW, settings, draws());
    expect(subjects(plan.steps)).toEqual(['kubeusers:prod:tool:foo:4-r2']);
    expect(names(plan.steps)).toContain('issue old-epoch');
  });
});

describe('upgrade from the previous release', () => {
  const cases: [string, AccountInput, { steps: string[]; subjects?: string[]; epochId?: string }][] = [
    ['a working certificate is left alone: no CSR, no write', input(legacy()), { steps: [] }],
    [
      'at its normal renewal it moves to the new form, both groups bound while the files change',
      input(legacy(DUE)),
      { steps: ['issue due'], epochId: '3-n1' },
    ],
    [
      'a state with no working certificate (revoked by the previous release) moves at once',
      input(legacy({ status: 'revoked', epoch: 4, certEpoch: 3 })),
      { steps: ['save-state', 'apply RoleBinding'], subjects: ['kubeusers:prod:tool:foo:4-n1'] },
    ],
    [
      'a legacy group a revoked certificate carries too (re-added before the upgrade): next epoch at once',
      input(legacy(), { revokedLegacy: new Set(['kubeusers:tool:foo:3']) }),
      {
        steps: ['save-state', 'apply RoleBinding', 'issue old-epoch'],
        subjects: ['kubeusers:prod:tool:foo:4-n1'],
        epochId: '4-n1',
      },
    ],
    [
      'revoked certificates of earlier epochs do not move a working legacy state',
      input(legacy(), { revokedLegacy: new Set(['kubeusers:tool:foo:2', 'kubeusers:tool:bar:3']) }),
      { steps: [] },
    ],
    [
      'a forced renewal (admin renew) moves it too',
      input(legacy(), { force: true }),
      { steps: ['issue forced'], epochId: '3-n1' },
    ],
  ];
  it.each(cases)('%s', (_, i, want) => {
    const plan = decide(i, NOW, settings, draws('n1'));
    expect(names(plan.steps)).toEqual(want.steps);
    if (want.subjects) expect(subjects(plan.steps)).toEqual(want.subjects);
    if (want.epochId) expect(issuedWith(plan.steps)?.epochId).toBe(want.epochId);
  });

  it("binds a previous release's admin under the new binding name and deletes the old one", () => {
    const admin = account({ kind: 'admin', name: 'alice', uid: 'alice' });
    const state = legacy({ kind: 'admin', name: 'alice', uid: 'alice' });
    const old: ObservedObject = {
      kind: 'ClusterRoleBinding',
      name: 'kubeusers-admin-alice-view',
      hash: 'x',
      digest: 'x',
      terminating: false,
    };
    const plan = decide(
      {
        kind: 'admin',
        name: 'alice',
        skipped: false,
        account: admin,
        state,
        observed: new Map([[observedKey(old.kind, undefined, old.name), old]]),
      },
      NOW,
      settings,
      draws(),
    );
    expect(
      plan.steps.map((s) =>
        s.do === 'apply' ? s.object.metadata.name : s.do === 'delete' ? `delete ${s.ref.name}` : s.do,
      ),
    ).toEqual(['kubeusers-prod-admin-alice-view', 'delete kubeusers-admin-alice-view']);
  });
});
