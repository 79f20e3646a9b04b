// Tampering seen through the cluster cache's watch: the account is synced at once, not at the next
// interval (here an hour away), with a Warning Event and a metric. The tamperer is another cluster
// writer (the setup kubeconfig) posing as kubeusers' field manager, as in tamper.test.ts: tools have
// no rights on these objects.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl, testEnv } from '../../env/index.ts';
import { scenario, type Scenario } from '../support.ts';
import { SyncLoop } from '../../../src/reconcile/loop.ts';
import { restoreForeignChanges } from '../../../src/reconcile/restore.ts';
import { accountKey } from '../../../src/model/account.ts';
import { until } from '../../env/wait.ts';
import { allObjects } from '../../../src/model/observed.ts';

let s: Scenario;
let loop: SyncLoop;
let stopRestoring: () => void = () => undefined;
const NS = 'tw-alpha';

/**
 * The cluster admin's kubeconfig: the other writer that tampers (a tool has no rights on these
 * objects; tool-boundary.test.ts shows that with the tool's own kubeconfig), and inspection. Never
 * kubeusers' own means, never an attack step a tool could take.
 */
async function setup(...args: string[]): Promise<string> {
  const r = await kubectl(testEnv().kube.adminKubeconfig, args); // setup/inspection: cluster admin
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const quotaPods = async (): Promise<string> =>
  (
    JSON.parse(await setup('get', 'resourcequota', 'kubeusers', '-n', NS, '-o', 'json')) as {
      spec: { hard: Record<string, string> };
    }
  ).spec.hard.pods!;

const eventReasons = async (): Promise<string[]> =>
  (
    JSON.parse(await setup('get', 'events', '-n', NS, '-o', 'json')) as { items: { reason: string }[] }
  ).items.map((e) => e.reason);

async function foreignCount(kind: string): Promise<number> {
  const m = await s.app.cacheMetrics.foreign.get();
  return m.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

beforeAll(async () => {
  s = await scenario('tw');
  await s.dir.addTool({ name: 'alpha', uidNumber: 55_001 });
  await s.app.cache.start();
  loop = new SyncLoop(s.app.sync, { intervalMs: 3_600_000, renewalCron: '0 0 1 1 *' });
  const first = new Promise<void>((resolve) => loop.onResult(() => resolve()));
  loop.start();
  await first;
  // As the daemon wires it (src/cli/daemon.ts).
  stopRestoring = restoreForeignChanges({
    ...s.app.sync,
    cache: s.app.cache,
    foreign: s.app.cacheMetrics.foreign,
    backoff: s.app.cacheMetrics.restoreBackoff,
    backoffSettings: { firstDelayMs: 1000, maxDelayMs: 3_600_000 },
    sync: (a) => loop.trigger({ mode: 'sync', only: new Set([accountKey(a.kind, a.name)]) }),
  });
  expect(await quotaPods()).toBe('16');
});

afterAll(async () => {
  stopRestoring();
  await loop?.stop();
  await s?.app.cache.stop();
});

describe('tampering seen through the watch', () => {
  it('is put back at once, with an Event and a metric', async () => {
    // the other writer (cluster admin), posing as kubeusers' field manager
    await setup(
      'patch',
      'resourcequota',
      'kubeusers',
      '-n',
      NS,
      '--type=merge',
      '-p',
      '{"spec":{"hard":{"pods":"99"}}}',
      '--field-manager=kubeusers',
    );
    await until('the quota put back', async () => (await quotaPods()) === '16', 60_000, 200);
    await until(
      'the Events',
      async () => {
        const reasons = await eventReasons();
        return reasons.includes('ChangedElsewhere') && reasons.includes('TamperingReverted');
      },
      60_000,
      200,
    );
    expect(await foreignCount('ResourceQuota')).toBe(1);
  });

  it('makes a deleted binding again', async () => {
    await setup('delete', 'rolebinding', 'kubeusers-tool', '-n', NS); // the other writer (cluster admin)
    await until(
      'the binding made again',
      async () => {
        // inspection: cluster admin reads whether kubeusers made the binding again
        const r = await kubectl(testEnv().kube.adminKubeconfig, [
          'get',
          'rolebinding',
          'kubeusers-tool',
          '-n',
          NS,
        ]);
        return r.code === 0;
      },
      60_000,
      200,
    );
    expect(await foreignCount('RoleBinding')).toBeGreaterThanOrEqual(1);
  });

  it("does not take kubeusers' own changes for someone else's", async () => {
    const before = (await s.app.cacheMetrics.foreign.get()).values.reduce((n, v) => n + v.value, 0);
    await s.dir.lock(s.dir.toolDn('alpha'));
    expect((await s.sync()).done.length).toBeGreaterThan(0);
    // Locking takes the namespace away: the objects in it go with it, none of it someone else's doing.
    await until('the namespace gone from the cache', () =>
      Promise.resolve(
        !allObjects(s.app.cache.snapshot({ kind: 'tool', name: 'alpha' }).objects).some(
          (o) => o.kind === 'Namespace',
        ),
      ),
    );
    const after = (await s.app.cacheMetrics.foreign.get()).values.reduce((n, v) => n + v.value, 0);
    expect(after).toBe(before);
  });
});
