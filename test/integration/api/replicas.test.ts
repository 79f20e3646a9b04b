// Two replicas of the real daemon behind a reproduction of the shipped Service (each new connection to
// the next replica in turn): every `kubeusers revoke|renew --api` an admin types succeeds, whichever
// replica the connection lands on, and none is retried. The follower hands a write to the leader over
// an authenticated hop; the leader believes a forwarded certificate only from kubeusers' own identity
// and decides everything else (credential, rate, RBAC) again itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, testEnv } from '../../env/index.ts';
import { teeToLog } from '../../env/logs.ts';
import { servingPairFrom } from '../../env/pki.ts';
import { roundRobin, type RoundRobin } from '../../env/round-robin.ts';
import { stopApiserver } from '../../env/apiserver-restart.ts';
import { cli, kubeconfigOf, scenario, type Scenario } from '../support.ts';
import { credentialsOf, type Caller } from './support.ts';
import { until } from '../../env/wait.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const NS = 'kubeusers-rp';
const FORWARD_AUDIENCE = 'kubeusers-forward';
let s: Scenario;
let proxy: RoundRobin;
let caFile: string;
const daemons: Daemon[] = [];

interface Daemon {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  port: number;
}

async function daemon(configFile: string): Promise<Daemon> {
  const child = spawn(
    process.execPath,
    [join(repo, 'src', 'cli', 'index.ts'), '--config', configFile, 'run'],
    {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const d: Daemon = { child, lines: [], port: 0 };
  daemons.push(d);
  let rest = '';
  // Kept where the global teardown looks for secrets: the hop's tokens must never be logged.
  teeToLog(child, testEnv().dir, 'rp-daemon');
  child.stdout.on('data', (c: Buffer) => {
    const parts = (rest + c.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) d.lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  const running = await until('the daemon running', () => d.lines.find((l) => l.msg === 'kubeusers running'));
  d.port = (running.api as { port: number }).port;
  return d;
}

const holder = async (): Promise<string | undefined> =>
  (
    await adminKubeConfig()
      .makeApiClient(k8s.CoordinationV1Api)
      .readNamespacedLease({ namespace: NS, name: 'kubeusers-leader' })
      .catch(() => undefined)
  )?.spec?.holderIdentity;

/** What the kubelet projects into the pod: a token of kubeusers' ServiceAccount, for the forwarding audience. */
async function projectedToken(sa: string, dir: string): Promise<string> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: sa } } });
  const tr = await core.createNamespacedServiceAccountToken({
    namespace: NS,
    name: sa,
    body: { spec: { audiences: [FORWARD_AUDIENCE], expirationSeconds: 3600 } },
  });
  const file = join(dir, `${sa}-token`);
  writeFileSync(file, tr.status?.token ?? '', { mode: 0o600 });
  return file;
}

function direct(
  port: number,
  method: string,
  path: string,
  who: Caller,
  body: object | undefined,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const req = request(
      `https://127.0.0.1:${port}${path}`,
      {
        method,
        ca: readFileSync(caFile, 'utf8'),
        ...(who.cert ? { cert: who.cert, key: who.key } : {}),
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

const admin = (u: string): string => kubeconfigOf(join(s.adminHomesRoot, u));

let leader: Daemon;
let follower: Daemon;
let tokenDir: string;

beforeAll(async () => {
  const env = testEnv();
  const dir = mkdtempSync(join(env.dir, 'replicas-'));
  const pair = await servingPairFrom(
    readFileSync(env.kube.caFile, 'utf8'),
    readFileSync(env.kube.caKeyFile, 'utf8'),
    ['127.0.0.1'],
    ['localhost'],
  );
  writeFileSync(join(dir, 'tls.crt'), pair.cert);
  writeFileSync(join(dir, 'tls.key'), pair.key, { mode: 0o600 });
  caFile = env.kube.caFile;
  tokenDir = dir;
  // The token file is written once the namespace exists (scenario() creates it).
  const tokenFile = join(dir, 'kubeusers-token');
  s = await scenario('rp', {
    sync: { intervalSeconds: 2, renewalCron: '0 0 1 1 *' },
    leaderElection: { leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 },
    ops: { address: '127.0.0.1', port: 0 },
    api: {
      enabled: true,
      address: '127.0.0.1',
      port: 0,
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
      forward: { tokenFile, host: '127.0.0.1' },
    },
  });
  writeFileSync(tokenFile, readFileSync(await projectedToken('kubeusers', dir), 'utf8'), { mode: 0o600 });
  for (let i = 0; i < 8; i++) await s.dir.addTool({ name: `r${i}`, uidNumber: 64_700 + i });
  for (const [i, u] of ['rpboss', 'rpintern'].entries()) {
    await s.dir.addUser({ user: u, uidNumber: 64_800 + i });
    if (u === 'rpboss') await s.dir.addToAdminGroup(u);
  }
  expect((await s.sync()).failures).toEqual([]);

  const first = await daemon(s.configFile);
  await until('the first replica leading', async () => (await holder())?.endsWith(`-${first.child.pid}`));
  const second = await daemon(s.configFile);
  leader = first;
  follower = second;
  proxy = await roundRobin([first.port, second.port]);
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  for (const d of daemons) {
    d.child.stdout?.destroy();
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
  }
});

describe('two replicas behind the Service', () => {
  it('carry out every revoke and renew an admin types, whichever replica the connection reaches', async () => {
    const common = ['--api', proxy.url, '--api-ca', caFile, '--kubeconfig', admin('rpboss')];
    const results = [];
    // Four of each, so that each kind of write reaches each replica twice.
    for (let i = 0; i < 4; i++)
      results.push(await cli(['revoke', `r${i}`, '--reason', `leaked ${i}`, ...common]));
    for (let i = 4; i < 8; i++) results.push(await cli(['renew', `r${i}`, ...common]));
    expect(proxy.counts.every((c) => c >= 4)).toBe(true);
    expect(results.map((r) => `${r.code} ${r.stderr.trim()}`)).toEqual(Array(8).fill('0 '));
    // Every revocation is recorded once, by the leader, in the admin's name (not the follower's).
    const status = await cli(['status', 'r1', '--json', ...common]);
    const r1 = JSON.parse(status.stdout) as { revocations: { actor: string; reason: string }[] };
    expect(r1.revocations.map((r) => [r.actor, r.reason])).toEqual([['rpboss', 'leaked 1']]);
  });

  it('refuse a forwarded certificate from anyone but kubeusers itself', async () => {
    // The attacker holds a tool's own credential and rpboss's certificate (public: it is no secret).
    const tool = credentialsOf(join(s.homesRoot, 'r7'));
    const bossCert = credentialsOf(join(s.adminHomesRoot, 'rpboss'), '.admkube').cert!;
    const der = new X509Certificate(bossCert).raw.toString('base64');
    const body = { reason: 'forged' };
    const path = '/api/v1/accounts/r6/revoke';
    const claim = { 'kubeusers-forwarded-client-cert': der };
    // No forwarder credential at all; then the tool's own kind of token in the forwarder header.
    const outsider = await projectedToken('intruder', tokenDir);
    for (const headers of [
      claim,
      { ...claim, 'kubeusers-forwarder': readFileSync(outsider, 'utf8') },
      { ...claim, authorization: `Bearer ${readFileSync(outsider, 'utf8')}` },
    ]) {
      const r = await direct(leader.port, 'POST', path, tool, body, headers);
      expect([401, 403]).toContain(r.status);
      const anonymous = await direct(leader.port, 'POST', path, {}, body, headers);
      expect([401, 403]).toContain(anonymous.status);
    }
    const status = await cli([
      'status',
      'r6',
      '--json',
      '--api',
      proxy.url,
      '--api-ca',
      caFile,
      '--kubeconfig',
      admin('rpboss'),
    ]);
    expect((JSON.parse(status.stdout) as { revocations: unknown[] }).revocations).toEqual([]);
  });

  it('let the leader decide a forwarded request again: a caller without the right is refused', async () => {
    const tool = credentialsOf(join(s.homesRoot, 'r7'));
    const r = await direct(follower.port, 'POST', '/api/v1/accounts/r6/revoke', tool, { reason: 'mine now' });
    expect(r.status).toBe(403);
  });
});

describe('the follower answers from memory', () => {
  const boss = (): Caller => credentialsOf(join(s.adminHomesRoot, 'rpboss'), '.admkube');
  const account = async (
    d: Daemon,
    name: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> =>
    direct(d.port, 'GET', `/api/v1/accounts/${name}`, boss(), undefined);
  /** Milliseconds until the follower's answer satisfies `seen` (for the notes; no threshold). */
  async function reflected(
    name: string,
    seen: (r: { status: number; body: Record<string, unknown> }) => boolean,
  ): Promise<number> {
    const start = performance.now();
    await until('the follower showing it', async () => seen(await account(follower, name)) || undefined);
    return performance.now() - start;
  }

  it('reflects a revocation, a lock and a removal made by the leader', async () => {
    const revoked = await direct(leader.port, 'POST', '/api/v1/accounts/r4/revoke', boss(), {
      reason: 'freshness',
      reissue: false,
    });
    expect(revoked.status).toBe(200);
    const atLeader = (await account(leader, 'r4')).body;
    expect(atLeader.state).toBe('revoked');
    const revokeMs = await reflected(
      'r4',
      (r) => r.body.state === 'revoked' && r.body.epoch === atLeader.epoch,
    );

    await s.dir.lock(s.dir.toolDn('r5'));
    await until('r5 locked', async () => (await account(leader, 'r5')).body.state === 'locked' || undefined);
    const lockMs = await reflected('r5', (r) => r.body.state === 'locked');

    await s.dir.deleteTool('r6');
    await until('r6 removed', async () => (await account(leader, 'r6')).status === 404 || undefined);
    const removeMs = await reflected('r6', (r) => r.status === 404);
    console.log(
      `follower caught up after the leader answered: revocation ${revokeMs.toFixed(0)} ms, lock ${lockMs.toFixed(0)} ms, removal ${removeMs.toFixed(0)} ms (including one request each)`,
    );
  });

  it('answers 503 while it cannot know (its watch broken by an API server outage), never a stale answer', async () => {
    expect((await account(follower, 'r7')).status).toBe(200);
    const stopped = await stopApiserver(testEnv());
    try {
      // The first answers may come before the broken watch is noticed; the first one that is not 200 must be 503.
      const during = await until('the follower refusing', async () => {
        const r = await account(follower, 'r7');
        return r.status === 200 ? undefined : r;
      });
      expect([during.status, during.body.code]).toEqual([503, 'not-synced']);
    } finally {
      await stopped.start();
    }
    await until(
      'the follower answering again',
      async () => (await account(follower, 'r7')).status === 200 || undefined,
      120_000,
    );
  });
});
