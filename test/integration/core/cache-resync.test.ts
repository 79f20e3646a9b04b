// A periodic full resync with nothing changed makes no Kubernetes request at all while the cluster
// cache is synced (the audit log counts every request kubeusers makes); a cache that is not synced is
// never decided on: the sync lists as before.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { auditOffset, auditedSince, type Audited } from '../../env/audit.ts';
import { scenario, type Scenario } from '../support.ts';
import { until } from '../../env/wait.ts';

let s: Scenario;
const NS = 'kubeusers-cr';

/** Requests that completed, watches left out: one that is open has not completed yet. */
const requests = (offset: number): Audited[] => auditedSince(offset, NS).filter((e) => e.verb !== 'watch');

beforeAll(async () => {
  s = await scenario('cr');
  for (const [i, name] of ['alpha', 'beta', 'gamma'].entries())
    await s.dir.addTool({ name, uidNumber: 54_001 + i });
  await s.dir.addUser({ user: 'cradmin', uidNumber: 54_100 });
  await s.dir.addToAdminGroup('cradmin');
  await s.app.cache.start();
  await until('the cache synced', () => s.app.cache.synced());
  const first = await s.sync();
  expect(first.failures).toEqual([]);
});

afterAll(async () => {
  await s?.app.cache.stop();
});

describe('a resync with nothing changed', () => {
  it('makes no Kubernetes request while the cache is synced', async () => {
    const offset = auditOffset();
    const result = await s.sync();
    expect(result.failures).toEqual([]);
    expect(result.done).toEqual([]);
    expect(requests(offset)).toEqual([]);
  });

  it("makes none for one account's sync either", async () => {
    const offset = auditOffset();
    const result = await s.sync({ only: new Set(['tool/beta']) });
    expect(result.done).toEqual([]);
    expect(requests(offset)).toEqual([]);
  });

  it('reads what the sync before it wrote (no second issuance, no reapply)', async () => {
    await s.dir.addTool({ name: 'delta', uidNumber: 54_010 });
    const made = await s.sync();
    expect(
      made.done.some((d) => d.startsWith('tool/delta: issue') || d.startsWith('tool/delta: adopt')),
    ).toBe(true);
    // At once, without waiting for the watch: the cache took kubeusers' own writes as they were made.
    const offset = auditOffset();
    const again = await s.sync();
    expect(again.done).toEqual([]);
    expect(requests(offset)).toEqual([]);
  });

  it('lists as before when the cache is not synced', async () => {
    await s.app.cache.stop();
    expect(s.app.cache.synced()).toBe(false);
    const offset = auditOffset();
    const result = await s.sync();
    expect(result.done).toEqual([]);
    const lists = requests(offset).filter((e) => e.verb === 'list');
    expect(lists.map((e) => e.resource).sort()).toEqual(
      [
        'certificatesigningrequests',
        'clusterrolebindings',
        'configmaps',
        'configmaps',
        'limitranges',
        'namespaces',
        'resourcequotas',
        'rolebindings',
      ].sort(),
    );
  });
});
