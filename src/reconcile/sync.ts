// One sync: gather (directory + cluster) → decide per account (pure) → guard removals → act with
// bounded concurrency. A failure in one account never stops the others.
import {
  accountKey,
  type Account,
  type AccountKind,
  type Directory,
  type DirectorySnapshot,
  type OneRead,
  type Skipped,
} from '../model/account.ts';
import type { Clock } from '../clock.ts';
import { systemRandom, type Random } from '../random.ts';
import type { Clients } from '../cluster/client.ts';
import { csrName, legacyEpochGroup } from '../model/names.ts';
import { Ledger } from '../cluster/ledger.ts';
import { deleteCsr } from '../cluster/csr.ts';
import { accountFromState, type AccountState } from '../model/state.ts';
import type { Logger } from '../log.ts';
import { emitEvent, type EventSink } from '../cluster/events.ts';
import { describeError, isNotLeader, isUnreachable } from '../cluster/errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Actor } from './act.ts';
import {
  decide,
  guardLimit,
  type GuardInput,
  type AccountInput,
  type AccountPlan,
  type DecideSettings,
  type GuardSettings,
  type Step,
} from '../model/decide.ts';
import { readCluster, type ClusterSnapshot, type ClusterView } from './gather.ts';
import { NO_OBJECTS, type ObjectsByAccount } from '../model/observed.ts';
import type { DesiredMemo } from '../model/desired.ts';
import { KeyedMutex, mapPool, Slices } from './pool.ts';
import { waitingAccounts, type Waiting } from '../model/credentials.ts';

export interface SyncDeps {
  directory: Directory;
  clients: Clients;
  actor: Actor;
  clock: Clock;
  log: Logger;
  ownNamespace: string;
  decide: DecideSettings;
  guard: GuardSettings;
  concurrency: number;
  signTimeoutMs: number;
  mutex: KeyedMutex;
  metrics?: Metrics;
  /** Events go through it (queued and retried); without it, one attempt each. */
  recorder?: EventSink;
  /** Draws new epoch ids (the system's randomness unless a test injects its own). */
  random?: Random;
  /** The cluster cache: read instead of listing while it is synced (the daemon; one-shot commands list). */
  cache?: ClusterView;
  /** The desired objects' summaries kept between syncs (the daemon; a one-shot builds them once). */
  desiredMemo?: DesiredMemo;
}

export type SyncMode = 'sync' | 'plan' | 'renew';

export interface SyncOptions {
  mode: SyncMode;
  /** An operator confirmed removals beyond the guard. */
  confirmRemovals?: boolean;
  /** Limit the run to these accounts (`kind/name`). */
  only?: Set<string>;
  /** Reissue these accounts' certificates even if not due. */
  force?: Set<string>;
}

export interface GuardTrip {
  removals: number;
  limit: number;
  names: string[];
}

export interface SyncResult {
  plans: AccountPlan[];
  done: string[];
  failures: { account: string; error: string }[];
  /** Accounts left without working credentials that this run did not try (backing off): not success. */
  waiting: Waiting[];
  skipped: Skipped[];
  guard?: GuardTrip;
  directoryError?: string;
  /** Accounts a one-entry read could not decide (gone, no longer an admin): a full read must. */
  undecided?: string[];
}

const where = (o: { namespace?: string; name: string }): string =>
  `${o.namespace ? `${o.namespace}/` : ''}${o.name}`;

export function describeStep(kind: AccountKind, name: string, step: Step): string {
  const who = `${kind}/${name}`;
  switch (step.do) {
    case 'save-state':
      return `${who}: record state (${step.state.status}, epoch ${step.state.epoch})`;
    case 'apply':
      return `${who}: apply ${step.object.kind} ${where(step.object.metadata)}`;
    case 'revert':
      return `${who}: put back ${step.object.kind} ${where(step.object.metadata)} (changed by someone else)`;
    case 'delete':
      return `${who}: delete ${step.ref.kind} ${step.ref.namespace ? `${step.ref.namespace}/` : ''}${step.ref.name}`;
    case 'adopt-or-issue':
      return `${who}: adopt the certificate in the home, or issue one`;
    case 'issue':
      return `${who}: issue a certificate (${step.reason})`;
    case 'flag':
      return `${who}: ${step.disabled ? 'write' : 'remove'} the disabled flag`;
    case 'remove-state':
      return `${who}: forget the account (the home is kept)`;
  }
}

interface Inputs {
  snapshot?: DirectorySnapshot;
  directoryError?: string;
  /** The directory was read for one account only: an account missing from it is not a removal. */
  partial?: { undecided?: string };
  cluster: ClusterSnapshot;
  /** Legacy groups of certificates in the ledger, read only while a previous release's state remains. */
  revokedLegacy?: ReadonlySet<string>;
}

/** The one account a sync is limited to, if it is limited to one. */
function single(only: Set<string> | undefined): { kind: AccountKind; name: string } | undefined {
  if (only?.size !== 1) return undefined;
  const [kind, name] = [...only][0]!.split('/') as [AccountKind, string];
  return { kind, name };
}

/**
 * The legacy groups (`kubeusers:<kind>:<name>:<epoch>`) of revoked certificates, while any state of the
 * previous release (no epoch id) is left: before this release an account removed and re-added reused
 * its epochs, so such a group may be carried by a revoked certificate too. One labelled list, and
 * none at all once every state has an epoch id.
 */
async function revokedLegacyGroups(
  deps: SyncDeps,
  cluster: ClusterSnapshot,
  one: { kind: AccountKind; name: string } | undefined,
): Promise<ReadonlySet<string> | undefined> {
  if (cluster.states.every((s) => s.epochId !== undefined)) return undefined;
  const entries = await new Ledger(deps.clients, deps.ownNamespace).list(
    one ? { kind: one.kind, account: one.name } : {},
  );
  return new Set(entries.map((r) => legacyEpochGroup(r.kind, r.account, r.epoch)));
}

async function gather(deps: SyncDeps, mode: SyncMode, only?: Set<string>): Promise<Inputs> {
  const cluster = await readCluster(deps.cache, deps.clients, deps.ownNamespace, single(only));
  const revokedLegacy = await revokedLegacyGroups(deps, cluster, single(only));
  const base = { cluster, ...(revokedLegacy ? { revokedLegacy } : {}) };
  if (mode === 'renew') return base;
  const one = single(only);
  try {
    if (one) return { ...base, ...oneRead(one, await deps.directory.readOne(one.kind, one.name)) };
    return { ...base, snapshot: await deps.directory.read() };
  } catch (err) {
    return { ...base, directoryError: err instanceof Error ? err.message : 'directory read failed' };
  }
}

/** One entry's read as a snapshot of its own: found, skipped, or left undecided (nothing done). */
export function oneRead(
  one: { kind: AccountKind; name: string },
  read: OneRead,
): { snapshot: DirectorySnapshot; partial: { undecided?: string } } {
  if ('found' in read) return { snapshot: { accounts: [read.found], skipped: [] }, partial: {} };
  if ('skipped' in read) return { snapshot: { accounts: [], skipped: [read.skipped] }, partial: {} };
  return {
    snapshot: { accounts: [], skipped: [] },
    partial: { undecided: `${accountKey(one.kind, one.name)}: ${read.undecided}` },
  };
}

interface Indexed {
  states: Map<string, AccountState>;
  objects: ObjectsByAccount;
  accounts: Map<string, Account>;
  skipped: Set<string>;
}

/** A map of the items by key, built in slices like the decisions (ADR 27). */
async function keyed<T>(
  items: Iterable<T>,
  key: (item: T) => string,
  slices: Slices,
): Promise<Map<string, T>> {
  const m = new Map<string, T>();
  await slices.each(items, (item) => m.set(key(item), item));
  return m;
}

async function fromStates(states: Map<string, AccountState>, slices: Slices): Promise<Map<string, Account>> {
  const m = new Map<string, Account>();
  await slices.each(states, ([k, s]) => m.set(k, accountFromState(s)));
  return m;
}

/**
 * The inputs by account. At 10,000 accounts (60,000 objects) this was one block of ~60-190 ms per
 * resync that every API answer waited behind: it yields like the decisions do.
 */
async function indexInputs(inputs: Inputs, slices: Slices): Promise<Indexed> {
  const key = (a: { kind: AccountKind; name: string }): string => accountKey(a.kind, a.name);
  const states = await keyed(inputs.cluster.states, key, slices);
  // Without a directory answer, accounts are taken from state: renewals go on, nothing is removed or locked.
  const accounts = inputs.snapshot
    ? await keyed(inputs.snapshot.accounts, key, slices)
    : await fromStates(states, slices);
  const skipped = (inputs.snapshot?.skipped ?? [])
    .filter((s) => s.name)
    .map((s) => accountKey(s.kind, s.name!));
  return {
    states,
    objects: inputs.cluster.objects,
    accounts,
    skipped: new Set(skipped),
  };
}

function inputFor(key: string, ix: Indexed, inputs: Inputs, opts: SyncOptions): AccountInput {
  const directoryAnswered = inputs.snapshot !== undefined;
  const [kind, name] = key.split('/') as [AccountKind, string];
  const state = ix.states.get(key);
  const account = ix.accounts.get(key);
  return {
    kind,
    name,
    // Only a full read may say an account is gone (it keeps the removal guard).
    skipped: ix.skipped.has(key) || (!account && (!directoryAnswered || inputs.partial !== undefined)),
    observed: ix.objects.get(key) ?? NO_OBJECTS,
    ...(account ? { account } : {}),
    ...(state ? { state } : {}),
    ...(opts.force?.has(key) ? { force: true } : {}),
    ...(inputs.revokedLegacy ? { revokedLegacy: inputs.revokedLegacy } : {}),
  };
}

async function planAll(
  inputs: Inputs,
  deps: SyncDeps,
  opts: SyncOptions,
): Promise<{ plans: AccountPlan[]; ix: Indexed }> {
  const now = deps.clock.now();
  // One budget for every pass: at 10,000 accounts they ran back to back for up to ~15 ms.
  const slices = new Slices();
  const ix = await indexInputs(inputs, slices);
  const keys = new Set([...ix.accounts.keys(), ...ix.states.keys(), ...ix.objects.keys(), ...ix.skipped]);
  await slices.checkpoint();
  const plans: AccountPlan[] = [];
  const wanted = [...keys].filter((key) => !opts.only || opts.only.has(key)).sort();
  await slices.checkpoint();
  if (!opts.only) deps.desiredMemo?.retain(new Set(ix.accounts.keys()));
  await slices.each(wanted, (key) => {
    const input = inputFor(key, ix, inputs, opts);
    if (opts.mode === 'renew' && (!input.account || input.account.locked)) return;
    const plan = decide(input, now, deps.decide, deps.random ?? systemRandom, deps.desiredMemo);
    // The renewal sweep only renews.
    if (opts.mode === 'renew')
      plan.steps = plan.steps.filter((st) => st.do === 'issue' || st.do === 'adopt-or-issue');
    plans.push(plan);
  });
  return { plans, ix };
}

function applyGuard(
  plans: AccountPlan[],
  inputs: Inputs,
  deps: SyncDeps,
  opts: SyncOptions,
): GuardTrip | undefined {
  const removals = plans.filter((p) => p.removal);
  if (removals.length === 0 || opts.confirmRemovals) return undefined;
  const count = (kinds: { kind: AccountKind }[]): GuardInput['states'] => ({
    tool: kinds.filter((a) => a.kind === 'tool').length,
    admin: kinds.filter((a) => a.kind === 'admin').length,
  });
  const limit = guardLimit(
    {
      removals: removals.length,
      states: count(inputs.cluster.states),
      directory: count(inputs.snapshot?.accounts ?? []),
    },
    deps.guard,
  );
  if (limit === undefined) return undefined;
  for (const p of removals) p.steps = [];
  return { removals: removals.length, limit, names: removals.map((p) => `${p.kind}/${p.name}`) };
}

/** CSRs of ours older than the signing timeout are leftovers of a crash. */
function staleCsrs(inputs: Inputs, deps: SyncDeps, plans: AccountPlan[]): string[] {
  const working = new Set(
    plans
      .filter((p) => p.steps.some((s) => s.do === 'issue' || s.do === 'adopt-or-issue'))
      .map((p) => csrName(p.kind, p.name)),
  );
  const cutoff = deps.clock.now().getTime() - 2 * deps.signTimeoutMs;
  return inputs.cluster.csrs
    .filter((c) => !working.has(c.name) && (!c.created || c.created.getTime() < cutoff))
    .map((c) => c.name);
}

/** Skipped entries and a tripped guard are told in the log and, for the guard, as an Event. */
async function report(deps: SyncDeps, result: SyncResult): Promise<void> {
  for (const s of result.skipped) {
    deps.log.warn({ account: s.name, kind: s.kind, dn: s.dn, action: 'skip', reason: s.reason }, s.message);
  }
  if (!result.guard) return;
  const g = result.guard;
  const note = `${g.removals} account(s) would be removed, more than the ${g.limit} allowed; nothing was removed. Confirm with: kubeusers sync --once --confirm-removals`;
  deps.log.warn(
    { action: 'guard', removals: g.removals, limit: g.limit, accounts: g.names.slice(0, 50) },
    note,
  );
  await emitEvent(deps, {
    namespace: deps.ownNamespace,
    regarding: { apiVersion: 'v1', kind: 'Namespace', name: deps.ownNamespace, namespace: deps.ownNamespace },
    reason: 'RemovalGuard',
    action: 'HoldRemovals',
    type: 'Warning',
    note,
  });
}

/** Causes that are the process's or the cluster's, not an account's: said once per sync, with a count. */
const COLLECTIVE = {
  'leader-lost': (n: number) =>
    `lost the lease during the sync: ${n} account(s) left unfinished for the next leader`,
  'api-unreachable': (n: number) =>
    `the API server did not answer: ${n} account(s) left unfinished for the next sync`,
} as const;

function collectiveCause(err: unknown): keyof typeof COLLECTIVE | undefined {
  if (isNotLeader(err)) return 'leader-lost';
  if (isUnreachable(err)) return 'api-unreachable';
  return undefined;
}

/** Every failed account goes into the result; the log has a line per account, or one per collective cause. */
function reportFailures(
  deps: SyncDeps,
  work: AccountPlan[],
  outcomes: PromiseSettledResult<unknown>[],
  result: SyncResult,
): void {
  const collective = new Map<keyof typeof COLLECTIVE, string[]>();
  outcomes.forEach((o, i) => {
    if (o.status !== 'rejected') return;
    const plan = work[i]!;
    const key = accountKey(plan.kind, plan.name);
    const error = describeError(o.reason);
    result.failures.push({ account: key, error });
    const cause = collectiveCause(o.reason);
    if (cause) collective.set(cause, [...(collective.get(cause) ?? []), key]);
    else
      deps.log.error(
        { account: plan.name, kind: plan.kind, action: 'reconcile', err: error },
        'account failed; the others go on',
      );
  });
  for (const [cause, accounts] of collective)
    deps.log.warn(
      { action: cause, accounts: accounts.length, first: accounts.slice(0, 10) },
      COLLECTIVE[cause](accounts.length),
    );
}

/** One sync, recorded in the metrics whatever its outcome. */
export async function runSync(deps: SyncDeps, opts: SyncOptions): Promise<SyncResult> {
  const started = performance.now();
  // A sync of some accounts is counted apart: the full sync's metrics are what the alerts read.
  const mode = opts.mode === 'sync' && opts.only ? 'one' : opts.mode;
  const seconds = (): number => (performance.now() - started) / 1000;
  try {
    const result = await syncOnce(deps, opts);
    if (opts.mode !== 'plan') deps.metrics?.recordSync(mode, result, seconds());
    return result;
  } catch (err) {
    if (opts.mode !== 'plan') deps.metrics?.recordSync(mode, undefined, seconds());
    throw err;
  }
}

/** A sync of some accounts sees only their states: the gauges of all stay as the last full sync set them. */
function setStateGauges(deps: SyncDeps, states: ReadonlyMap<string, AccountState>, opts: SyncOptions): void {
  if (!opts.only) deps.metrics?.setStates(states);
}

function newResult(plans: AccountPlan[], inputs: Inputs, guard: GuardTrip | undefined): SyncResult {
  return {
    plans,
    done: [],
    failures: [],
    waiting: [],
    skipped: inputs.snapshot?.skipped ?? [],
    ...(guard ? { guard } : {}),
    ...(inputs.directoryError ? { directoryError: inputs.directoryError } : {}),
    ...(inputs.partial?.undecided ? { undecided: [inputs.partial.undecided] } : {}),
  };
}

async function syncOnce(deps: SyncDeps, opts: SyncOptions): Promise<SyncResult> {
  const versionsAtGather = deps.actor.versions();
  const inputs = await gather(deps, opts.mode, opts.only);
  const { plans, ix } = await planAll(inputs, deps, opts);
  setStateGauges(deps, ix.states, opts);
  const guard = opts.mode === 'renew' ? undefined : applyGuard(plans, inputs, deps, opts);
  const result = newResult(plans, inputs, guard);
  if (opts.mode !== 'plan') await report(deps, result);
  if (opts.mode === 'plan') {
    result.done = plans.flatMap((p) => p.steps.map((s) => describeStep(p.kind, p.name, s)));
    return result;
  }
  const work = plans.filter((p) => p.steps.length > 0);
  // The directory's accounts, or (without its answer) the ones the states record: as decided.
  const accounts = ix.accounts;
  const outcomes = await mapPool(work, deps.concurrency, (plan) =>
    deps.mutex.run(accountKey(plan.kind, plan.name), async () => {
      const key = accountKey(plan.kind, plan.name);
      // Someone (a revocation, a renewal) changed this account since the plan was made: the plan is
      // stale and the next sync decides again from fresh state.
      if (deps.actor.version(plan.kind, plan.name) !== (versionsAtGather.get(key) ?? 0)) {
        deps.log.debug(
          { account: plan.name, kind: plan.kind, action: 'skip-stale-plan' },
          'state changed meanwhile',
        );
        return;
      }
      const account = accounts.get(key);
      for (const step of plan.steps) {
        await deps.actor.run(account, plan.kind, plan.name, step);
        result.done.push(describeStep(plan.kind, plan.name, step));
      }
    }),
  );
  reportFailures(deps, work, outcomes, result);
  result.waiting = waitingAccounts(
    plans,
    ix.states,
    accounts,
    deps.clock.now(),
    deps.decide.clockSkewToleranceMs,
  );
  for (const name of staleCsrs(inputs, deps, plans)) {
    await deleteCsr(deps.clients.certificates, name).catch(() => undefined);
  }
  return result;
}
