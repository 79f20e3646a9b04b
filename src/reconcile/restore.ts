// A change someone else made to an object kubeusers owns, seen through the cluster cache's watch,
// starts a sync of that account at once instead of waiting for the next interval (ADR 21). The sync
// decides from observed state as always (level-based): the event only says which account to look at.
import type { Counter } from 'prom-client';
import type { CacheChange, ClusterCache } from '../cluster/cache.ts';
import { emitEvent, type EventDeps } from '../cluster/events.ts';
import { accountKey, type AccountKind } from '../directory/account.ts';

export interface RestoreDeps extends EventDeps {
  cache: Pick<ClusterCache, 'onChange' | 'foreign'>;
  ownNamespace: string;
  foreign: Counter<'kind'>;
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
  const pending = new Map<string, Pending>();
  const run = (account: { kind: AccountKind; name: string }): void => {
    const key = accountKey(account.kind, account.name);
    const started = d.sync(account);
    if (!started) return void pending.delete(key);
    void started.finally(() => {
      // A change that came while the sync ran may have come after it read the cluster: once more.
      const again = pending.get(key) === 'again';
      pending.delete(key);
      if (again) {
        pending.set(key, 'queued');
        run(account);
      }
    });
  };
  return d.cache.onChange((change) => {
    const account = change.account;
    if (!account || !d.cache.foreign(change)) return;
    const key = accountKey(account.kind, account.name);
    if (pending.has(key)) return void pending.set(key, 'again');
    pending.set(key, 'queued');
    run(account);
    // Only a replica that syncs tells: the others see the same change.
    if (pending.has(key)) told(d, change);
  });
}

function told(d: RestoreDeps, change: CacheChange): void {
  const o = change.observed?.after ?? change.observed?.before;
  if (!o || !change.account) return;
  const what = `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
  const how = change.type === 'DELETED' ? 'deleted' : 'changed';
  d.foreign.inc({ kind: o.kind });
  d.log.warn(
    { account: change.account.name, kind: change.account.kind, action: 'restore', object: what, change: how },
    'an object of kubeusers was changed by someone else: syncing its account now',
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
      note: `${what} was ${how} by someone other than kubeusers; restoring it now`,
    },
    { account: change.account.name, kind: change.account.kind },
  );
}
