// decide: pure. From what the directory says, what state records and what the cluster holds, the
// ordered steps that bring one account to where it should be. No I/O, time passed in.
import type { Account, AccountKind } from './account.ts';
import type { Desired, ManifestSettings } from './manifests.ts';
import {
  adminBindingName,
  legacyAdminBindingName,
  legacyEpochGroup,
  ROLE_BINDING,
  toolNamespace,
} from './names.ts';
import { certIsCurrent, initialState, nextEpoch, withEpochId, type AccountState } from './state.ts';
import type { Random } from './random-type.ts';
import { LEGACY_PARAMS_NAME } from './pod-identity.ts';
import { DEFAULT_CLOCK_TOLERANCE_MS, validityAt } from './validity.ts';
import { stateRenewalTime, type RenewalPolicy } from './renewal.ts';
import { observedKey, type ObservedObject, type OwnObjects } from './observed.ts';
import { lockedState } from './transitions.ts';
import {
  desiredObjects,
  freshSummaries,
  type DesiredMemo,
  type DesiredSettings,
  type DesiredSummary,
} from './desired.ts';

export type IssueReason =
  'new' | 'expired' | 'not-yet-valid' | 'due' | 'old-epoch' | 'subject-changed' | 'forced';

export interface ObjectRef {
  kind: string;
  name: string;
  namespace?: string;
}

export type Step =
  | { do: 'save-state'; state: AccountState }
  | { do: 'apply'; object: Desired }
  /** The object holds other content than kubeusers last wrote: someone else changed it. */
  | { do: 'revert'; object: Desired }
  | { do: 'delete'; ref: ObjectRef }
  | { do: 'adopt-or-issue'; state: AccountState }
  | { do: 'issue'; state: AccountState; reason: IssueReason }
  | { do: 'flag'; disabled: boolean }
  | { do: 'remove-state' };

export interface AccountPlan {
  kind: AccountKind;
  name: string;
  steps: Step[];
  /** The account leaves the cluster (counted by the removal guard). */
  removal: boolean;
  /** When this account next needs a look, if nothing changes. */
  nextDue?: Date;
}

export interface DecideSettings extends DesiredSettings {
  renewal: RenewalPolicy;
  /** A certificate starting later than this ahead of our clock does not work yet. */
  clockSkewToleranceMs?: number;
}

export interface AccountInput {
  kind: AccountKind;
  name: string;
  account?: Account;
  /** The directory holds an entry of this name that failed validation: leave everything as it is. */
  skipped: boolean;
  state?: AccountState;
  observed: OwnObjects;
  /** Reissue even if not due (admin renew, revocation). */
  force?: boolean;
  /** Legacy groups of certificates in the revocation ledger (only while previous-release states remain). */
  revokedLegacy?: ReadonlySet<string>;
}

export type Drift = 'missing' | 'outdated' | 'tampered';

/**
 * How an object differs from what kubeusers wants, judged by what it holds, never by who wrote it.
 * The spec-hash annotation only tells the two kinds of difference apart: when it still names the
 * desired object, kubeusers wrote this content and someone changed it since (`tampered`); otherwise
 * what kubeusers wants changed (`outdated`). Either way the object is written again.
 */
export function drift(
  observed: ObservedObject | undefined,
  desired: Pick<DesiredSummary, 'digest' | 'hash'>,
): Drift | undefined {
  if (!observed) return 'missing';
  if (observed.digest === desired.digest) return undefined;
  return observed.hash === desired.hash ? 'tampered' : 'outdated';
}

/** The objects that grant an account its rights, for cutting it off. */
export function grantRefs(kind: AccountKind, name: string, s: ManifestSettings): ObjectRef[] {
  if (kind === 'admin')
    return s.adminClusterRoles.flatMap((r) => [
      { kind: 'ClusterRoleBinding', name: adminBindingName(s.instance, name, r) },
      { kind: 'ClusterRoleBinding', name: legacyAdminBindingName(name, r) },
    ]);
  return [{ kind: 'RoleBinding', name: ROLE_BINDING, namespace: toolNamespace(s.namespacePrefix, name) }];
}

function allRefs(kind: AccountKind, name: string, s: ManifestSettings): ObjectRef[] {
  if (kind === 'admin') return grantRefs(kind, name, s);
  const namespace = toolNamespace(s.namespacePrefix, name);
  // The binding goes first (an instant cut-off); deleting the namespace takes the rest with it.
  return [...grantRefs(kind, name, s), { kind: 'Namespace', name: namespace }];
}

/** Objects earlier releases created that kubeusers no longer keeps: removed where found. */
function retiredRefs(kind: AccountKind, name: string, s: ManifestSettings): ObjectRef[] {
  if (kind === 'admin') return [];
  // The pod-identity parameters moved to the namespace's labels; the tool could write this one.
  return [{ kind: 'ConfigMap', name: LEGACY_PARAMS_NAME, namespace: toolNamespace(s.namespacePrefix, name) }];
}

/** Present and not already being deleted. */
const isObserved = (input: AccountInput, r: ObjectRef): boolean => {
  const o = input.observed.get(observedKey(r.kind, r.namespace, r.name));
  return o !== undefined && !o.terminating;
};

/** Deletes of the retired objects an earlier release left for this account. */
const retiredSteps = (input: AccountInput, kind: AccountKind, name: string, s: ManifestSettings): Step[] =>
  retiredRefs(kind, name, s)
    .filter((ref) => isObserved(input, ref))
    .map((ref) => ({ do: 'delete' as const, ref }));

/** Why the account needs a new certificate now, if it does. */
export function issueReason(
  state: AccountState,
  account: Account,
  now: Date,
  s: Pick<DecideSettings, 'instance' | 'renewal'> & { clockSkewToleranceMs?: number },
): IssueReason | undefined {
  const policy = s.renewal;
  if (!state.serial || !state.notBefore || !state.notAfter) return 'new';
  const validity = validityAt(
    { notBefore: state.notBefore, notAfter: state.notAfter },
    now,
    s.clockSkewToleranceMs ?? DEFAULT_CLOCK_TOLERANCE_MS,
  ).validity;
  // A certificate that does not work now is replaced now, whatever else is true of it.
  if (validity !== 'valid') return validity;
  if (!certIsCurrent(s.instance, state)) return 'old-epoch';
  if (state.uid !== account.uid) return 'subject-changed';
  const due = stateRenewalTime(state, policy);
  if (due && now >= due) return 'due';
  return undefined;
}

/**
 * The epoch a state goes on with. A previous release's state (no epoch id) keeps its legacy group only
 * while it has a working certificate of it; one without gets a new-form id at once; one whose legacy
 * group a revoked certificate carries too (an account removed and re-added before the upgrade) moves
 * to the next epoch at once, so that group is never bound again.
 */
function continuedEpoch(
  input: AccountInput,
  state: AccountState,
  now: Date,
  ctx: { s: DecideSettings; random: Random },
): AccountState {
  if (state.epochId) return state;
  if (input.revokedLegacy?.has(legacyEpochGroup(state.kind, state.name, state.epoch)))
    return nextEpoch(state, ctx.random.epochSuffix(), now);
  const keepsLegacy = state.serial !== undefined && certIsCurrent(ctx.s.instance, state);
  return keepsLegacy ? state : withEpochId(state, ctx.random.epochSuffix());
}

/** The state brought up to date with the directory; `changed` when it must be saved first. */
function refreshState(
  input: AccountInput,
  account: Account,
  now: Date,
  ctx: { s: DecideSettings; random: Random },
): { state: AccountState; changed: boolean } {
  const state = continuedEpoch(
    input,
    input.state ?? initialState(account, now, ctx.random.epochSuffix()),
    now,
    ctx,
  );
  const same =
    input.state !== undefined &&
    state === input.state &&
    state.status !== 'locked' &&
    state.uidNumber === account.uidNumber &&
    state.gidNumber === account.gidNumber &&
    state.home === account.home;
  if (same) return { state, changed: false };
  const status = state.status === 'locked' ? 'pending' : state.status;
  return {
    state: {
      ...state,
      uidNumber: account.uidNumber,
      gidNumber: account.gidNumber,
      home: account.home,
      status,
      lastChange: now,
    },
    changed: true,
  };
}

/** The certificate step, or when to look again. */
function certificateStep(
  input: AccountInput,
  account: Account,
  now: Date,
  ctx: { state: AccountState; s: DecideSettings; random: Random },
): { step?: Step; nextDue?: Date } {
  const { s, state } = ctx;
  // An issuance always moves a previous release's state to the new group form (saved before the CSR).
  const issuing = (): AccountState => withEpochId(state, ctx.random.epochSuffix());
  // A credential revoked without reissue stays away until an admin renews it.
  if (state.status === 'revoked' && !input.force) return {};
  const backingOff = state.nextAttempt !== undefined && state.nextAttempt > now && !input.force;
  // Never issued, or interrupted mid-issuance: a usable certificate may already be in the home.
  if (state.issuing || !state.serial)
    return backingOff ? nextLook(state, s) : { step: { do: 'adopt-or-issue', state: issuing() } };
  const reason = input.force ? 'forced' : issueReason(state, account, now, s);
  if (reason && !backingOff) return { step: { do: 'issue', state: issuing(), reason } };
  return nextLook(state, s);
}

/** The later of the renewal time and the end of a backoff. */
function nextLook(state: AccountState, s: DecideSettings): { nextDue?: Date } {
  const due = stateRenewalTime(state, s.renewal);
  const times = [due, state.nextAttempt].filter((t): t is Date => t !== undefined);
  return times.length ? { nextDue: new Date(Math.max(...times.map((t) => t.getTime()))) } : {};
}

/** Deletes an admin's bindings of this installation that are no longer wanted (the previous release's names). */
function staleBindings(input: AccountInput, desired: readonly DesiredSummary[]): Step[] {
  if (input.kind !== 'admin') return [];
  const wanted = new Set(desired.map((d) => d.key));
  return [...input.observed.values()]
    .filter((o) => o.kind === 'ClusterRoleBinding' && !o.terminating)
    .filter((o) => !wanted.has(observedKey(o.kind, undefined, o.name)))
    .map((o) => ({ do: 'delete', ref: { kind: o.kind, name: o.name } }));
}

function decideActive(
  input: AccountInput,
  account: Account,
  now: Date,
  ctx: { s: DecideSettings; random: Random; memo: Pick<DesiredMemo, 'summaries'> },
): AccountPlan {
  const s = ctx.s;
  const plan: AccountPlan = { kind: account.kind, name: account.name, steps: [], removal: false };
  const ns =
    account.kind === 'tool'
      ? input.observed.get(
          observedKey('Namespace', undefined, toolNamespace(s.namespacePrefix, account.name)),
        )
      : undefined;
  // A namespace still being deleted (after a lock or removal) cannot take objects: wait for it.
  if (ns?.terminating) return { ...plan, nextDue: new Date(now.getTime() + 5_000) };
  if (input.state?.status === 'locked') plan.steps.push({ do: 'flag', disabled: false });
  const { state, changed } = refreshState(input, account, now, ctx);
  // Persist the epoch before anything is issued with it.
  if (changed) plan.steps.push({ do: 'save-state', state });
  const desired = ctx.memo.summaries(account, state, s);
  // The objects themselves are built only when one of them must be written.
  let objects: Desired[] | undefined;
  desired.forEach((want, i) => {
    const d = drift(input.observed.get(want.key), want);
    if (!d) return;
    objects ??= desiredObjects(account, state, s);
    plan.steps.push({ do: d === 'tampered' ? 'revert' : 'apply', object: objects[i]! });
  });
  plan.steps.push(...retiredSteps(input, account.kind, account.name, s));
  plan.steps.push(...staleBindings(input, desired));
  const cert = certificateStep(input, account, now, { ...ctx, state });
  if (cert.step) plan.steps.push(cert.step);
  if (cert.nextDue) plan.nextDue = cert.nextDue;
  return plan;
}

function decideLocked(
  input: AccountInput,
  account: Account,
  now: Date,
  ctx: { s: DecideSettings; random: Random },
): AccountPlan {
  const s = ctx.s;
  const steps: Step[] = [];
  const state = input.state ?? initialState(account, now, ctx.random.epochSuffix());
  // The lock is saved first: even if a delete below fails, no certificate issued so far is bound again.
  if (state.status !== 'locked')
    steps.push(
      { do: 'save-state', state: lockedState(state, ctx.random.epochSuffix(), now) },
      { do: 'flag', disabled: true },
    );
  for (const ref of allRefs(account.kind, account.name, s)) {
    if (isObserved(input, ref)) steps.push({ do: 'delete', ref });
  }
  return { kind: account.kind, name: account.name, steps, removal: false };
}

function decideRemoved(input: AccountInput, s: DecideSettings): AccountPlan {
  const steps: Step[] = allRefs(input.kind, input.name, s)
    .filter((ref) => isObserved(input, ref))
    .map((ref) => ({ do: 'delete' as const, ref }));
  if (input.state) steps.push({ do: 'remove-state' });
  return { kind: input.kind, name: input.name, steps, removal: steps.length > 0 };
}

/**
 * `random` draws the ids of new epochs (injected like the clock; tests pass a fixed sequence). A
 * `memo` keeps the desired objects' summaries between calls (the daemon's resyncs); the plan is the
 * same with or without it.
 */
export function decide(
  input: AccountInput,
  now: Date,
  s: DecideSettings,
  random: Random,
  memo: Pick<DesiredMemo, 'summaries'> = freshSummaries,
): AccountPlan {
  if (input.skipped) return { kind: input.kind, name: input.name, steps: [], removal: false };
  if (!input.account) return decideRemoved(input, s);
  if (input.account.locked) return decideLocked(input, input.account, now, { s, random });
  return decideActive(input, input.account, now, { s, random, memo });
}

export interface GuardSettings {
  maxFraction: number;
  minCount: number;
}

/** How many removals one sync may make without an operator's confirmation. */
export function removalLimit(accounts: number, g: GuardSettings): number {
  return Math.max(Math.floor(accounts * g.maxFraction), g.minCount);
}

/** What the guard weighs: the removals planned, and how many accounts each side knows of each kind. */
export interface GuardInput {
  removals: number;
  /** Accounts kubeusers manages (their states). */
  states: { tool: number; admin: number };
  /** Accounts the directory answered with. */
  directory: { tool: number; admin: number };
}

/**
 * The most removals a sync may make unconfirmed, or `undefined` when the planned ones are within it.
 * A kind the directory answers empty while kubeusers manages accounts of it (tools, or more than one
 * admin) is an unreadable directory far more often than a real departure (a hidden ACL, a wrong
 * member style): nothing is removed without confirmation (limit 0).
 */
export function guardLimit(g: GuardInput, s: GuardSettings): number | undefined {
  const limit = removalLimit(g.states.tool + g.states.admin, s);
  // One admin leaving is everyday; every admin gone at once is the signature of a group read empty.
  const emptyKind =
    (g.directory.tool === 0 && g.states.tool > 0) || (g.directory.admin === 0 && g.states.admin > 1);
  if (g.removals <= limit && !emptyKind) return undefined;
  return emptyKind ? 0 : limit;
}
