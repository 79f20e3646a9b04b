// The cluster cache's health as metrics: whether each watch is live, how often each kind re-listed,
// and how many changes someone else made to kubeusers' objects.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WatchObserver } from './watch.ts';

export interface CacheMetrics extends WatchObserver {
  foreign: Counter<'kind'>;
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
    help: 'Changes to objects kubeusers owns made by someone else, seen through the watch; each starts a sync of its account at once.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  return {
    foreign,
    live: (kind, up) => live.set({ kind }, up ? 1 : 0),
    relisted: (kind, reason) => relists.inc({ kind, reason }),
  };
}
