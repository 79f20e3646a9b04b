// The cluster cache across a broken watch: a real apiserver restart, and a resourceVersion the
// apiserver no longer serves (410 Gone). Either way the kind lists again and the cache converges on
// what the cluster holds; while it is not synced, nothing is decided on it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Counter } from 'prom-client';
import { stopApiserver } from '../../env/apiserver-restart.ts';
import { testEnv } from '../../env/index.ts';
import { auditOffset, auditedSince } from '../../env/audit.ts';
import type { Clients } from '../../../src/cluster/client.ts';
import { ListWatch, type KindChange, type RelistReason } from '../../../src/cluster/watch.ts';
import { parseState, type AccountState } from '../../../src/model/state.ts';
import { managedSelector } from '../../../src/model/names.ts';
import { gatherCluster } from '../../../src/reconcile/gather.ts';
import { scenario, type Scenario } from '../support.ts';
import { until } from '../../env/wait.ts';
import { sorted } from './snapshots.ts';

let s: Scenario;
const NS = 'kubeusers-cb';

async function relists(reason: RelistReason): Promise<number> {
  const metric = s.app.metrics.registry.getSingleMetric('kubeusers_cache_relists_total') as Counter;
  return (await metric.get()).values
    .filter((v) => v.labels.reason === reason)
    .reduce((n, v) => n + v.value, 0);
}

beforeAll(async () => {
  s = await scenario('cb');
  await s.dir.addTool({ name: 'alpha', uidNumber: 56_001 });
  await s.dir.addTool({ name: 'beta', uidNumber: 56_002 });
  await s.app.cache.start();
  expect((await s.sync()).failures).toEqual([]);
});

afterAll(async () => {
  await s?.app.cache.stop();
});

describe('a watch broken by an apiserver restart', () => {
  it('lists again and converges; not synced meanwhile', async () => {
    await until('synced', () => s.app.cache.synced());
    const before = await relists('broken');
    const t0 = performance.now();
    const stopped = await stopApiserver(testEnv());
    const t1 = performance.now();
    await until('the break seen', () => !s.app.cache.synced());
    await stopped.start();
    const t2 = performance.now();
    await until('synced again', () => s.app.cache.synced());
    const t3 = performance.now();
    // Figures for the notes, never asserted.
    console.log(
      `apiserver stop ${Math.round(t1 - t0)} ms, down to ready ${Math.round(t2 - t1)} ms, ready to synced ${Math.round(t3 - t2)} ms`,
    );
    // Every kind (8) listed again after the break.
    expect((await relists('broken')) - before).toBeGreaterThanOrEqual(8);
    const listed = await gatherCluster(s.app.clients, NS);
    expect(sorted(s.app.cache.snapshot())).toEqual(sorted(listed));
    // And it is decided on again: nothing to do, nothing asked of the apiserver.
    const offset = auditOffset();
    const result = await s.sync();
    expect(result.failures).toEqual([]);
    expect(result.done).toEqual([]);
    expect(auditedSince(offset, NS).filter((e) => e.verb !== 'watch')).toEqual([]);
  });

  it('sees changes after the restart', async () => {
    await s.dir.lock(s.dir.toolDn('beta'));
    expect((await s.sync()).failures).toEqual([]);
    await until('the lock in the cache', () => s.app.cache.state('tool', 'beta')?.status === 'locked');
  });
});

describe('a resourceVersion the apiserver no longer has', () => {
  it('gets 410 Gone from the real apiserver, lists again and goes on watching', async () => {
    // The first list's resourceVersion is replaced by one far older than the apiserver keeps, so the
    // watch that follows it asks the real apiserver for history it no longer has.
    let rewritten = false;
    const clients: Clients = {
      ...s.app.clients,
      getJson: async (path, accept) => {
        const page = (await s.app.clients.getJson(path, accept)) as {
          metadata?: { resourceVersion?: string };
        };
        if (!rewritten && page.metadata) {
          rewritten = true;
          page.metadata.resourceVersion = '2';
        }
        return page;
      },
    };
    const reasons: RelistReason[] = [];
    const lw = new ListWatch<AccountState>(
      {
        kind: 'state',
        path: `/api/v1/namespaces/${NS}/configmaps`,
        labelSelector: `${managedSelector(NS)},kubeusers.io/role=state`,
        record: (item) => parseState(item as Parameters<typeof parseState>[0]),
      },
      { clients, log: s.app.log, observer: { relisted: (_k, r) => reasons.push(r) }, maxBackoffMs: 1_000 },
    );
    const changes: KindChange<AccountState>[] = [];
    lw.onChange((c) => changes.push(c));
    try {
      await lw.start();
      await until('the 410 re-list', () => reasons.includes('gone'));
      await until('synced', () => lw.synced());
      expect(reasons).toEqual(['start', 'gone']);
      expect([...lw.records()].map((r) => r.name).sort()).toEqual(['alpha', 'beta']);
      // Watching from the new list's version: a change arrives.
      await s.dir.unlock(s.dir.toolDn('beta'));
      await s.dir.lock(s.dir.toolDn('alpha'));
      expect((await s.sync()).failures).toEqual([]);
      await until('the change after the re-list', () =>
        changes.some((c) => c.type === 'MODIFIED' && c.next?.name === 'alpha' && c.next.status === 'locked'),
      );
    } finally {
      await lw.stop();
    }
  });
});
