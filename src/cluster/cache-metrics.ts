// The cluster cache's health as metrics: whether each watch is live, how often each kind re-listed,
// how many changes someone else made to kubeusers' objects, and how often that became a fight.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WatchObserver } from './watch.ts';

export interface CacheMetrics extends WatchObserver {
  foreign: Counter<'kind'>;
  restoreBackoff: Counter<'kind'>;
}

export function cacheMetrics(registry: Registry): CacheMetrics {
  const live = new Gauge({
    name: 'kubeusers_cache_watch_live',
    help: 'Whether the watch of each kind kubeusers keeps in memory is open (1) or broken (0).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const relists = new Counter({
    name: 'kubeusers_cache_relists_total',
    help: 'Lists of each kind by the cluster cache, by reason: start, gone (410: resourceVersion expired), broken (the watch failed).',
    labelNames: ['kind', 'reason'] as const,
    registers: [registry],
  });
  const foreign = new Counter({
    name: 'kubeusers_foreign_changes_total',
    help: 'Changes to objects kubeusers owns made by someone else, seen through the watch; each starts a sync of its account, at once unless the account is in a restore backoff.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const restoreBackoff = new Counter({
    name: 'kubeusers_restore_backoff_total',
    help: 'Accounts, by kind, whose objects someone else changed again soon after kubeusers restored them (a fight, e.g. with a mutating webhook or a GitOps tool); their restores then wait longer each time, up to the sync interval. Counted once per fight, not per turn.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  return {
    foreign,
    restoreBackoff,
    live: (kind, up) => live.set({ kind }, up ? 1 : 0),
    relisted: (kind, reason) => relists.inc({ kind, reason }),
  };
}
