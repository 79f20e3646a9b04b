// A change someone else made to an object kubeusers owns, seen through the cluster cache's watch,
// starts a sync of that account at once instead of waiting for the next interval (ADR 21). The sync
// decides from observed state as always (level-based): the event only says which account to look at.
// An account that turns foreign again soon after a restore waits longer each time (restore-backoff.ts).
import type { Counter } from 'prom-client';
import type { CacheChange, ClusterCache } from '../cluster/cache.ts';
import { emitEvent, type EventDeps } from '../cluster/events.ts';
import { accountKey, type AccountKind } from '../model/account.ts';
import { nextRestore, type BackoffSettings, type RestoreHistory } from './restore-backoff.ts';

export interface RestoreDeps extends EventDeps {
  cache: Pick<ClusterCache, 'onChange' | 'foreign'>;
  ownNamespace: string;
  foreign: Counter<'kind'>;
  /** Fights started: an account foreign again soon after its restore. */
  backoff: Counter<'kind'>;
  backoffSettings: BackoffSettings;
  /** Runs fn after ms; returns a cancel. Injected so tests move time themselves. */
  after?: (ms: number, fn: () => void) => () => void;
  /** Runs a sync of one account; undefined when this replica does not sync (not the leader). */
  sync: (account: { kind: AccountKind; name: string }) => Promise<void> | undefined;
}

type Pending = 'queued' | 'again';

const API_VERSIONS: Record<string, string> = {
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
};

/** Listens until the returned function is called. */
export function restoreForeignChanges(d: RestoreDeps): () => void {
  const after =
    d.after ??
    ((ms: number, fn: () => void) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return () => clearTimeout(t);
    });
  const pending = new Map<string, Pending>();
  const history = new Map<string, RestoreHistory>();
  const waiting = new Map<string, () => void>();
  let stopped = false;
  const run = (account: { kind: AccountKind; name: string }): void => {
    const key = accountKey(account.kind, account.name);
    const started = d.sync(account);
    if (!started) return void pending.delete(key);
    void started.finally(() => {
      // A change that came while the sync ran may have come after it read the cluster: once more,
      // but through the backoff, since that change is likely the other writer answering this run.
      const again = pending.get(key) === 'again';
      pending.delete(key);
      if (again) schedule(account, undefined);
    });
  };
  const schedule = (account: { kind: AccountKind; name: string }, change: CacheChange | undefined): void => {
    if (stopped) return;
    const key = accountKey(account.kind, account.name);
    const now = d.clock.now().getTime();
    const decision = nextRestore(history.get(key), now, d.backoffSettings);
    history.set(key, decision.history);
    pending.set(key, 'queued');
    if (decision.fightStarts) {
      d.backoff.inc({ kind: account.kind });
      d.log.warn(
        { account: account.name, kind: account.kind, action: 'restore', delayMs: decision.history.delayMs },
        'an object of kubeusers keeps being changed by someone else right after each restore: restoring it with a growing delay, at most once per sync interval',
      );
    }
    if (decision.runAt <= now) {
      run(account);
      // Only a replica that syncs tells: the others see the same change.
      if (change && pending.has(key)) told(d, change, decision.say);
      return;
    }
    if (change) told(d, change, decision.say);
    waiting.set(
      key,
      after(decision.runAt - now, () => {
        waiting.delete(key);
        run(account);
      }),
    );
  };
  const stop = d.cache.onChange((change) => {
    const account = change.account;
    if (!account || !d.cache.foreign(change)) return;
    const key = accountKey(account.kind, account.name);
    if (pending.has(key)) {
      // Counted, not told: the sync already waiting or running covers it. A waiting one reads the
      // cluster after this change; a running one may have read it before.
      counted(d, change);
      pending.set(key, waiting.has(key) ? 'queued' : 'again');
      return;
    }
    schedule(account, change);
    // Whether this replica syncs is known only once it tries: a follower forgets what it decided.
    if (!pending.has(key)) history.delete(key);
  });
  return () => {
    stopped = true;
    stop();
    for (const cancel of waiting.values()) cancel();
    waiting.clear();
  };
}

function counted(d: RestoreDeps, change: CacheChange): void {
  const o = change.observed?.after ?? change.observed?.before;
  if (o) d.foreign.inc({ kind: o.kind });
}

function told(d: RestoreDeps, change: CacheChange, say: boolean): void {
  counted(d, change);
  const o = change.observed?.after ?? change.observed?.before;
  if (!say || !o || !change.account) return;
  const what = `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
  const how = change.type === 'DELETED' ? 'deleted' : 'changed';
  d.log.warn(
    { account: change.account.name, kind: change.account.kind, action: 'restore', object: what, change: how },
    'an object of kubeusers was changed by someone else: restoring it',
  );
  const namespace = o.namespace ?? d.ownNamespace;
  void emitEvent(
    d,
    {
      namespace,
      regarding: { apiVersion: API_VERSIONS[o.kind] ?? 'v1', kind: o.kind, name: o.name, namespace },
      reason: 'ChangedElsewhere',
      action: 'Restore',
      type: 'Warning',
      note: `${what} was ${how} by someone other than kubeusers; restoring it`,
    },
    { account: change.account.name, kind: change.account.kind },
  );
}
