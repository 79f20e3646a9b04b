// The cluster cache against the real apiserver: what it holds equals what the labelled lists return,
// and a change made in the cluster reaches it through the watch.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClusterCache, type CacheChange } from '../../../src/cluster/cache.ts';
import { gatherCluster } from '../../../src/reconcile/gather.ts';
import { scenario, type Scenario } from '../support.ts';
import { until } from '../../env/wait.ts';
import { sorted } from './snapshots.ts';
import { allObjects } from '../../../src/model/observed.ts';

let s: Scenario;
let cache: ClusterCache;
const changes: CacheChange[] = [];

beforeAll(async () => {
  s = await scenario('ca');
  await s.dir.addTool({ name: 'alpha', uidNumber: 53_001 });
  await s.dir.addTool({ name: 'beta', uidNumber: 53_002 });
  expect((await s.sync()).failures).toEqual([]);
  cache = new ClusterCache({
    clients: s.app.clients,
    log: s.app.log,
    ownNamespace: s.settings.kubernetes.namespace,
  });
  cache.onChange((c) => changes.push(c));
  await cache.start();
});

afterAll(async () => {
  await cache?.stop();
  expect(cache.synced()).toBe(false);
});

describe('the cluster cache', () => {
  it('is synced once every kind has listed, and holds what the labelled lists return', async () => {
    await until('synced', () => (cache.synced() ? true : undefined));
    const listed = await gatherCluster(s.app.clients, s.settings.kubernetes.namespace);
    expect(sorted(cache.snapshot())).toEqual(sorted(listed));
    expect(
      cache
        .states()
        .map((x) => x.name)
        .sort(),
    ).toEqual(['alpha', 'beta']);
    expect(cache.state('tool', 'alpha')).toMatchObject({
      kind: 'tool',
      name: 'alpha',
      status: 'active',
      epoch: 1,
    });
    expect(cache.state('tool', 'gamma')).toBeUndefined();
  });

  it("gives one account's part as the narrowed lists do", async () => {
    const account = { kind: 'tool' as const, name: 'beta' };
    const listed = await gatherCluster(s.app.clients, s.settings.kubernetes.namespace, account);
    expect(sorted(cache.snapshot(account))).toEqual(sorted(listed));
    expect(listed.objects.get('tool/beta')?.size).toBeGreaterThan(0);
  });

  it('sees a state change through the watch, with the account it belongs to', async () => {
    await s.dir.lock(s.dir.toolDn('alpha'));
    expect((await s.sync()).failures).toEqual([]);
    const change = await until('the locked state', () =>
      changes.find((c) => c.kind === 'state' && c.type === 'MODIFIED' && c.state?.after?.status === 'locked'),
    );
    expect(change.account).toEqual({ kind: 'tool', name: 'alpha' });
    expect(change.state?.before?.status).toBe('active');
    expect(cache.state('tool', 'alpha')?.status).toBe('locked');
    expect(cache.state('tool', 'alpha')?.epoch).toBe(2);
  });

  it('sees an owned object deleted by someone else as a change of its account', async () => {
    await s.app.clients.rbac.deleteNamespacedRoleBinding({ namespace: 'ca-beta', name: 'kubeusers-tool' });
    const change = await until('the deleted binding', () =>
      changes.find((c) => c.kind === 'RoleBinding' && c.type === 'DELETED' && c.account?.name === 'beta'),
    );
    expect(change.observed?.before).toMatchObject({ kind: 'RoleBinding', namespace: 'ca-beta' });
    expect(
      allObjects(cache.snapshot({ kind: 'tool', name: 'beta' }).objects).map((o) => o.kind),
    ).not.toContain('RoleBinding');
  });
});
