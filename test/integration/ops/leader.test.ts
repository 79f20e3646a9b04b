import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, testEnv } from '../../env/index.ts';
import { teeToLog } from '../../env/logs.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';
import { auditOffset, auditedSince } from '../../env/audit.ts';

let s: Scenario;
const repo = join(import.meta.dirname, '..', '..', '..');
const daemons: ChildProcess[] = [];

function daemon(): { child: ChildProcess; pid: number } {
  const child = spawn(
    process.execPath,
    [join(repo, 'src', 'cli', 'index.ts'), '--config', s.configFile, 'run'],
    { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  teeToLog(child, testEnv().dir, 'le-daemon');
  daemons.push(child);
  return { child, pid: child.pid! };
}

async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (await check()) return (performance.now() - start) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

const holder = async (): Promise<string | undefined> =>
  (
    await adminKubeConfig()
      .makeApiClient(k8s.CoordinationV1Api)
      .readNamespacedLease({ namespace: 'kubeusers-le', name: 'kubeusers-leader' })
      .catch(() => undefined)
  )?.spec?.holderIdentity;

/** Writes (not reviews, not the lease) per kubeusers identity, from the apiserver's audit log. */
function writers(offset: number): Map<string, { verb: string; uri: string }[]> {
  const m = new Map<string, { verb: string; uri: string }[]>();
  for (const e of auditedSince(offset, 'kubeusers-le')) {
    if (['get', 'list', 'watch'].includes(e.verb) || /reviews|leases/.test(e.uri)) continue;
    const id = e.agent.split('/')[2]!;
    m.set(id, [...(m.get(id) ?? []), { verb: e.verb, uri: e.uri }]);
  }
  return m;
}

beforeAll(async () => {
  s = await scenario('le', {
    sync: { intervalSeconds: 1, renewalCron: '0 0 1 1 *' },
    leaderElection: { leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 },
    ops: { address: '127.0.0.1', port: 0 },
  });
});
afterAll(() => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
});

describe('two replicas', () => {
  it('write from one identity at a time, fail over after kill -9, and never issue an account twice', async () => {
    const offset = auditOffset();
    const a = daemon();
    await until(async () => (await holder())?.endsWith(`-${a.pid}`) === true, 30_000);
    const b = daemon();
    for (let i = 0; i < 5; i++) await s.dir.addTool({ name: `t${i}`, uidNumber: 64_000 + i });
    await until(
      () => [0, 1, 2, 3, 4].every((i) => existsSync(kubeconfigOf(join(s.homesRoot, `t${i}`)))),
      60_000,
    );

    const before = writers(offset);
    expect([...before.keys()]).toEqual([`${(await holder())!}`]);

    a.child.kill('SIGKILL');
    const takeover = await until(async () => (await holder())?.endsWith(`-${b.pid}`) === true, 30_000);
    await s.dir.addTool({ name: 'after', uidNumber: 64_100 });
    const provisioned = await until(() => existsSync(kubeconfigOf(join(s.homesRoot, 'after'))), 30_000);
    console.log(
      `failover: lease taken over ${takeover.toFixed(1)} s after kill -9; new tool provisioned ${provisioned.toFixed(1)} s later`,
    );

    const all = writers(offset);
    const csrCreates = [...all.values()]
      .flat()
      .filter(
        (w) =>
          w.verb === 'create' && w.uri.includes('certificatesigningrequests') && !w.uri.includes('/approval'),
      );
    // One CSR per account: six tools, six creations, across both replicas.
    expect(csrCreates).toHaveLength(6);
    const serials = [0, 1, 2, 3, 4].map((i) =>
      readFileSync(join(s.homesRoot, `t${i}`, '.toolskube', 'client.crt'), 'utf8'),
    );
    expect(new Set(serials).size).toBe(5);
    b.child.kill('SIGTERM');
  });
});
