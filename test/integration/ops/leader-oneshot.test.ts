// One writer, always: the one-shot commands that write take the Lease, or refuse naming the live
// holder; --force takes it over. Against a running daemon, the real CLI, the real apiserver.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, testEnv } from '../../env/index.ts';
import { teeToLog } from '../../env/logs.ts';
import { cli, kubeconfigOf, scenario, type Scenario } from '../support.ts';
import { auditOffset, auditedSince } from '../../env/audit.ts';

let s: Scenario;
const repo = join(import.meta.dirname, '..', '..', '..');
const daemons: ChildProcess[] = [];
const NS = 'kubeusers-lo';
/** EXIT.leaseHeld */
const LEASE_HELD = 6;

function daemon(): { child: ChildProcess; pid: number; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [join(repo, 'src', 'cli', 'index.ts'), '--config', s.configFile, 'run'],
    { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  teeToLog(child, testEnv().dir, 'lo-daemon');
  daemons.push(child);
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { child, pid: child.pid!, exited };
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
      .readNamespacedLease({ namespace: NS, name: 'kubeusers-leader' })
      .catch(() => undefined)
  )?.spec?.holderIdentity;

interface Audited {
  pid: string;
  verb: string;
  uri: string;
}

/** Writes of kubeusers processes of this scenario since `offset`, with the pid from the user agent. */
function audited(offset: number): Audited[] {
  const out: Audited[] = [];
  for (const e of auditedSince(offset, NS)) {
    if (['get', 'list', 'watch'].includes(e.verb) || /reviews/.test(e.uri)) continue;
    out.push({ pid: e.agent.split('-').at(-1)!, verb: e.verb, uri: e.uri });
  }
  return out;
}

beforeAll(async () => {
  s = await scenario('lo', {
    sync: { intervalSeconds: 1, renewalCron: '0 0 1 1 *' },
    leaderElection: { leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 },
    ops: { address: '127.0.0.1', port: 0 },
  });
});
afterAll(() => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
});

describe('one-shot writes beside a running daemon', () => {
  it('are refused naming the holder, go through with --force, and take the lease when it is free', async () => {
    const d = daemon();
    await until(async () => (await holder())?.endsWith(`-${d.pid}`) === true, 30_000);
    await s.dir.addTool({ name: 'one', uidNumber: 64_300 });
    await until(() => existsSync(kubeconfigOf(join(s.homesRoot, 'one'))), 60_000);

    const refusals: [string, string[]][] = [
      ['sync --once', ['sync', '--once']],
      ['renew --once', ['renew', '--once']],
      ['sync --once --confirm-removals', ['sync', '--once', '--confirm-removals']],
    ];
    for (const [name, args] of refusals) {
      const offset = auditOffset();
      const r = await cli(['--config', s.configFile, ...args]);
      expect({ name, code: r.code }).toEqual({ name, code: LEASE_HELD });
      expect(r.stderr).toContain(`held by ${(await holder())!}`);
      expect(r.stderr).toContain('--force');
      // Refused before anything was written: the refused process wrote nothing but its Event.
      expect(audited(offset).filter((w) => w.pid !== String(d.pid))).toEqual([
        { pid: expect.any(String), verb: 'create', uri: `/api/v1/namespaces/${NS}/events` },
      ]);
    }

    const refused = await adminKubeConfig()
      .makeApiClient(k8s.CoreV1Api)
      .listNamespacedEvent({ namespace: NS, fieldSelector: 'reason=OneShotRefused' });
    expect(refused.items).toHaveLength(refusals.length);

    // --force takes the lease over: the daemon stops writing, the one-shot writes, then gives it back.
    const daemonHolder = (await holder())!;
    await s.dir.addTool({ name: 'forced', uidNumber: 64_301 });
    const offset = auditOffset();
    const forced = await cli(['--config', s.configFile, 'sync', '--once', '--force']);
    expect(forced.stderr).toContain(`taking the lease ${NS}/kubeusers-leader over from ${daemonHolder}`);
    expect(forced.code).toBe(0);
    const leaseWrites = audited(offset).filter((w) => w.uri.includes('/leases/') && w.pid !== String(d.pid));
    expect(leaseWrites.length).toBeGreaterThan(0);
    const taken = await until(async () => (await holder())?.endsWith(`-${d.pid}`) === true, 30_000);
    console.log(`one-shot --force: the daemon led again ${taken.toFixed(1)} s after the one-shot ended`);

    // With the daemon gone, a one-shot takes the free lease itself and gives it up at the end.
    d.child.kill('SIGTERM');
    await d.exited;
    const offset2 = auditOffset();
    const alone = await cli(['--config', s.configFile, 'sync', '--once']);
    expect(alone.code).toBe(0);
    const own = audited(offset2).filter((w) => w.uri.includes('/leases'));
    expect(own.length).toBeGreaterThan(0);
    expect(await holder()).toBe('');

    // A one-shot killed mid-run (kill -9 once a home is written) leaves its lease behind; the next
    // one-shot on this host sees that process gone and goes on at once instead of being refused.
    await s.dir.addTool({ name: 'killed', uidNumber: 64_302 });
    const killed = await cli(['--config', s.configFile, 'sync', '--once'], {
      KUBEUSERS_CRASH_AT: 'files-written',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(await holder()).toMatch(/^once\//);
    const next = await cli(['--config', s.configFile, 'sync', '--once']);
    expect({ code: next.code, stderr: next.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await holder()).toBe('');
  });
});
