// Nothing unrecorded: every certificate that reaches a home (issued, renewed or adopted) has an Event
// naming its serial, also when the API server goes away in the middle of the work.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, testEnv } from '../../env/index.ts';
import { stopApiserver } from '../../env/apiserver-restart.ts';
import { teeToLog } from '../../env/logs.ts';
import { Writable } from 'node:stream';
import { makeLogger } from '../../../src/log.ts';
import { buildApp, type App } from '../../../src/main.ts';
import { runSync } from '../../../src/reconcile/sync.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const daemons: ChildProcess[] = [];
afterAll(() => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
});

const sink = (lines: string[]): Writable =>
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
const core = (): k8s.CoreV1Api => adminKubeConfig().makeApiClient(k8s.CoreV1Api);
const normal = (serial: string): string => serial.toLowerCase().replace(/^0+/, '');

function homeSerial(s: Scenario, tool: string): string {
  const pem = readFileSync(join(s.homesRoot, tool, '.toolskube', 'client.crt'), 'utf8');
  return normal(new X509Certificate(pem).serialNumber);
}

/** Serials named by kubeusers' Events in the tool's namespace, with their reasons. */
async function recorded(s: Scenario, tool: string): Promise<Map<string, string[]>> {
  const events = await core().listNamespacedEvent({
    namespace: `${s.settings.kubernetes.namespacePrefix}${tool}`,
    fieldSelector: 'source=kubeusers',
  });
  const m = new Map<string, string[]>();
  for (const e of events.items) {
    const serial = /certificate ([0-9a-f]+) /.exec(e.message ?? '')?.[1];
    if (serial) m.set(normal(serial), [...(m.get(normal(serial)) ?? []), e.reason ?? '']);
  }
  return m;
}

async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (await check()) return (performance.now() - start) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

describe('adoption', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await scenario('ev');
  });

  it('records an Event naming the adopted certificate', async () => {
    await s.dir.addTool({ name: 'kept', uidNumber: 64_400 });
    // An issuance interrupted after the files were written (here: the lease lost at that moment)
    // leaves a certificate in the home that the state does not name yet; the next sync adopts it.
    const built: { app?: App } = {};
    const point = (name: string): void => {
      if (name === 'files-written' && built.app) built.app.fence.canWrite = () => false;
    };
    const app = (built.app = await buildApp(s.settings, { log: makeLogger('debug', sink(s.logs)), point }));
    await runSync(app.sync, { mode: 'sync' });
    const serial = homeSerial(s, 'kept');
    expect((await s.sync()).failures).toEqual([]);
    expect(s.logs.some((l) => l.includes('"action":"adopt"'))).toBe(true);
    expect((await recorded(s, 'kept')).get(serial)).toContain('CertificateAdopted');
  });
});

describe('across a kube-apiserver restart', () => {
  let s: Scenario;
  const TOOLS = 30;
  beforeAll(async () => {
    s = await scenario('evr', {
      sync: { intervalSeconds: 1, renewalCron: '0 0 1 1 *' },
      leaderElection: { leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 },
      ops: { address: '127.0.0.1', port: 0 },
    });
  });

  it('every certificate in a home has its Event, none lost to the outage', async () => {
    const names = Array.from({ length: TOOLS }, (_, i) => `r${i}`);
    for (const [i, name] of names.entries()) await s.dir.addTool({ name, uidNumber: 64_500 + i });
    const child = spawn(
      process.execPath,
      [join(repo, 'src', 'cli', 'index.ts'), '--config', s.configFile, 'run'],
      { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    daemons.push(child);
    teeToLog(child, testEnv().dir, 'evr-daemon');
    const lines: string[] = [];
    child.stdout.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const homes = (): number => names.filter((n) => existsSync(kubeconfigOf(join(s.homesRoot, n)))).length;
    // The outage starts from the run's own progress: once a few homes are written, with more in flight.
    await until(() => homes() >= 3, 120_000);
    const stopped = await stopApiserver(testEnv());
    const down = performance.now();
    const atStop = homes();
    await stopped.start();
    const outage = (performance.now() - down) / 1000;
    const settled = await until(() => homes() === TOOLS, 180_000);
    // Every serial in a home named by an Event, once the queue has drained.
    const missing = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const n of names) if (!(await recorded(s, n)).has(homeSerial(s, n))) out.push(n);
      return out;
    };
    const drained = await until(async () => (await missing()).length === 0, 60_000).catch(() => undefined);
    console.log(
      `apiserver restart: ${atStop}/${TOOLS} homes written at the stop, API down ${outage.toFixed(1)} s, all homes ${settled.toFixed(1)} s later, events complete ${drained === undefined ? 'never' : `${drained.toFixed(1)} s after that`}`,
    );
    expect(await missing()).toEqual([]);
    // Failures during the outage have their own reasons (api-unreachable, not-leader), never `other`,
    // and a lost lease is one line per sync, not a line per account.
    const failed: string[] = [];
    for (const n of names) {
      const events = await core().listNamespacedEvent({
        namespace: `${s.settings.kubernetes.namespacePrefix}${n}`,
        fieldSelector: 'reason=IssuanceFailed',
      });
      for (const e of events.items)
        failed.push(/^no certificate delivered \(([^)]+)\)/.exec(e.message ?? '')?.[1] ?? '?');
    }
    const count = (what: string): number => lines.filter((l) => l.includes(what)).length;
    console.log(
      `apiserver restart: IssuanceFailed reasons [${failed.join(', ')}]; log: ${count('"action":"leader-lost"')} leader-lost, ${count('"action":"reconcile"')} per-account failure, ${count('events wait')} events-wait and ${count('events are delivered again')} delivered-again line(s); ${count('"action":"api-unreachable"')} api-unreachable line(s)`,
    );
    expect(failed.filter((r) => r === 'other' || r === '?')).toEqual([]);
    // Only answers of the API server are per account; no answer at all and a lost lease are said once.
    const perAccount = lines
      .filter((l) => l.includes('"action":"reconcile"'))
      .map((l) => (JSON.parse(l) as { err?: string }).err ?? '');
    expect(perAccount.filter((e) => !e.startsWith('API '))).toEqual([]);
    child.kill('SIGTERM');
  });
});
