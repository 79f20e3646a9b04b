// A service behind Debian's nginx with the shipped gateway configuration trusts kubeusers
// credentials: tools call it with their own certificate (the files in their home) and nothing else;
// kubeusers answers nginx's auth_request from its in-memory view of the accounts.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { certInfo } from '../../../src/pki/cert.ts';
import { auditedSince, auditOffset } from '../../env/audit.ts';
import { adminKubeConfig, testEnv } from '../../env/index.ts';
import { clientPairFrom } from '../../env/pki.ts';
import { scenario, type Scenario } from '../support.ts';
import { httpsGet, startWorkedGateway, type Tls, type Worked } from './support.ts';
import { accountsView, type TestView } from './view.ts';

let s: Scenario;
let w: Worked;
let view: TestView;
const dns: Record<string, string> = {};

const own = (tool: string): Tls => ({
  cert: readFileSync(join(s.homesRoot, tool, '.toolskube', 'client.crt'), 'utf8'),
  key: readFileSync(join(s.homesRoot, tool, '.toolskube', 'client.key'), 'utf8'),
});
const boss = (): Tls => ({
  cert: readFileSync(join(s.adminHomesRoot, 'gwboss', '.admkube', 'client.crt'), 'utf8'),
  key: readFileSync(join(s.adminHomesRoot, 'gwboss', '.admkube', 'client.key'), 'utf8'),
});
const through = (who: Tls, path = '/hello') => httpsGet(`${w.gateway.url}${path}`, w.caPem, who);
const review = (who: Tls, headers: Record<string, string>) =>
  httpsGet(`${w.api.url}/api/v1/credential-reviews`, w.caPem, { ...who, headers });
const escaped = (pem: string): Record<string, string> => ({
  'x-client-certificate': encodeURIComponent(pem),
});

beforeAll(async () => {
  s = await scenario('gw');
  for (const [i, t] of [
    'gwok',
    'gwrevoked',
    'gwlocked',
    'gwrenewed',
    'gwexpired',
    'gwcaller',
    'gwcached',
  ].entries())
    dns[t] = await s.dir.addTool({ name: t, uidNumber: 65_000 + i });
  await s.dir.addUser({ user: 'gwboss', uidNumber: 65_100 });
  await s.dir.addToAdminGroup('gwboss');
  expect((await s.sync()).failures).toEqual([]);
  view = await accountsView(s);
  w = await startWorkedGateway(s, view, '0s');
});
afterAll(async () => {
  await w?.stop();
  await view?.close();
});

describe('a tool calling a service through the gateway with its own certificate', () => {
  it('is let through, and the service is told who it is (whatever the tool claims)', async () => {
    const tls = own('gwok');
    const r = await through({
      ...tls,
      headers: { 'X-Kubeusers-Name': 'someone-else', 'X-Kubeusers-Kind': 'admin' },
    });
    expect(r.status).toBe(200);
    const info = await certInfo(tls.cert!);
    expect(r.json()).toEqual({
      path: '/hello',
      headers: {
        'x-kubeusers-kind': 'tool',
        'x-kubeusers-name': 'gwok',
        'x-kubeusers-project': 'gw',
        'x-kubeusers-epoch': '1',
        'x-kubeusers-not-after': info.notAfter.toISOString(),
      },
    });
  });

  it('is denied on the very next request once an admin revoked the credential', async () => {
    const leaked = own('gwrevoked');
    expect((await through(leaked)).status).toBe(200);
    const r = await httpsGet(`${w.api.url}/api/v1/accounts/gwrevoked/revoke`, w.caPem, {
      ...boss(),
      method: 'POST',
      body: JSON.stringify({ reason: 'pasted in a chat', reissue: false }),
    });
    expect(r.status).toBe(200);
    const denied = await through(leaked);
    expect(denied.status).toBe(403);
  });

  it('is denied after the next sync once the tool is locked in LDAP, not before', async () => {
    const tls = own('gwlocked');
    await s.dir.lock(dns.gwlocked!);
    expect((await through(tls)).status).toBe(200);
    await s.sync();
    await view.seen('tool', 'gwlocked', (st) => st.status === 'locked');
    expect((await through(tls)).status).toBe(403);
  });

  it('after a renewal: the new certificate works, and so does the previous one until it expires (same epoch)', async () => {
    const previous = own('gwrenewed');
    const before = await certInfo(previous.cert!);
    await s.sync({ only: new Set(['tool/gwrenewed']), force: new Set(['tool/gwrenewed']) });
    const renewed = own('gwrenewed');
    const after = await certInfo(renewed.cert!);
    expect(after.serial).not.toBe(before.serial);
    await view.seen('tool', 'gwrenewed', (st) => st.serial === after.serial);
    const n = await through(renewed);
    expect([n.status, (n.json() as { headers: object }).headers]).toEqual([
      200,
      expect.objectContaining({ 'x-kubeusers-not-after': after.notAfter.toISOString() }),
    ]);
    const p = await through(previous);
    expect([p.status, (p.json() as { headers: object }).headers]).toEqual([
      200,
      expect.objectContaining({ 'x-kubeusers-not-after': before.notAfter.toISOString() }),
    ]);
    // By fingerprint alone, only the current certificate is known.
    const byFp = (fp: string) => review(w.gatewayCert, { 'x-client-certificate-sha256': fp });
    expect((await byFp(after.fingerprint)).status).toBe(200);
    expect((await byFp(before.fingerprint)).status).toBe(401);
  });

  it('is refused by nginx itself when expired, before kubeusers is asked', async () => {
    const env = testEnv();
    const current = await certInfo(own('gwexpired').cert!);
    // The tool's identity as its certificate states it, but past its end (the CA key is setup means:
    // kubeusers never issues for less than 10 minutes, so a tool's own expired copy is minted here).
    const expired = await clientPairFrom(
      readFileSync(env.kube.caFile, 'utf8'),
      readFileSync(env.kube.caKeyFile, 'utf8'),
      `CN=${current.commonName}, ${current.groups.map((g) => `O=${g}`).join(', ')}`,
      { notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) },
    );
    const lines = readFileSync(w.gateway.accessLog, 'utf8').split('\n').length;
    const r = await through(expired);
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/SSL certificate error/);
    const logged = readFileSync(w.gateway.accessLog, 'utf8')
      .split('\n')
      .slice(lines - 1)
      .filter(Boolean);
    expect(logged).toEqual([expect.stringMatching(/^400 - "GET \/hello/)]);
  });

  it('is refused by nginx without a certificate', async () => {
    const none = await through({});
    expect([none.status, none.text]).toEqual([400, expect.stringMatching(/No required SSL certificate/)]);
  });

  it('gets 500 (never a yes) while this replica cannot know the accounts', async () => {
    view.pretendUnsynced(true);
    try {
      expect((await through(own('gwok'))).status).toBe(500);
      expect((await review(w.gatewayCert, escaped(own('gwok').cert!))).status).toBe(503);
    } finally {
      view.pretendUnsynced(false);
    }
    expect((await through(own('gwok'))).status).toBe(200);
  });
});

/** Every request completed before this call is in the audit log once a marker request made now is. */
async function auditUpTo(): Promise<void> {
  const name = `gw-audit-marker-${process.hrtime.bigint()}`;
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  const from = auditOffset();
  await core.readNamespacedConfigMap({ namespace: 'default', name }).catch(() => undefined);
  for (let i = 0; i < 600; i++) {
    if (auditedSince(from).some((r) => r.name === name)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('audit marker not seen');
}

describe('the credential review endpoint', () => {
  it('answers from memory: reviews through nginx make no Kubernetes request', async () => {
    const tls = own('gwok');
    expect((await through(tls)).status).toBe(200);
    await auditUpTo();
    const offset = auditOffset();
    const statuses = new Set<number>();
    for (let i = 0; i < 50; i++) statuses.add((await through(tls)).status);
    expect((await through(own('gwrevoked'))).status).toBe(403);
    expect([...statuses]).toEqual([200]);
    await auditUpTo();
    const made = auditedSince(offset).filter((r) => /^kubeusers/.test(r.agent) && r.verb !== 'watch');
    expect(made).toEqual([]);
  });

  it('answers only callers granted create on kubeusers.io/credentialreviews', async () => {
    const asked = escaped(own('gwok').cert!);
    expect((await review({}, asked)).status).toBe(401);
    const tool = await review(own('gwcaller'), asked);
    expect([tool.status, (tool.json() as { code: string }).code]).toEqual([403, 'forbidden']);
    expect((await review(w.gatewayCert, asked)).status).toBe(200);
    expect((await review(w.gatewayCert, {})).status).toBe(401);
  });

  it('gives the gateway nothing of the accounts, but the revocations feed', async () => {
    const list = await httpsGet(`${w.api.url}/api/v1/accounts`, w.caPem, w.gatewayCert);
    expect(list.status).toBe(403);
    type Page = { items: { account: string; serial: string }[]; cursor: string; more: boolean };
    const page = async (since: string): Promise<Page> => {
      const r = await httpsGet(
        `${w.api.url}/api/v1/revocations?since=${since}&limit=1`,
        w.caPem,
        w.gatewayCert,
      );
      expect(r.status).toBe(200);
      return r.json() as Page;
    };
    const seen: string[] = [];
    let p = await page('');
    for (;;) {
      seen.push(...p.items.map((i) => i.account));
      if (!p.more) break;
      p = await page(p.cursor);
    }
    expect(seen).toContain('gwrevoked');
    expect(await page(p.cursor)).toEqual({ items: [], cursor: p.cursor, more: false });
  });
});

describe('the shipped configuration, which remembers a yes for 1 s', () => {
  it('denies a revoked certificate once that second has passed', async () => {
    const shipped = await startWorkedGateway(s, view, '1s');
    try {
      const leaked = own('gwcached');
      const via = () => httpsGet(`${shipped.gateway.url}/hello`, shipped.caPem, leaked);
      expect((await via()).status).toBe(200);
      const r = await httpsGet(`${w.api.url}/api/v1/accounts/gwcached/revoke`, w.caPem, {
        ...boss(),
        method: 'POST',
        body: JSON.stringify({ reason: 'found in a log', reissue: false }),
      });
      expect(r.status).toBe(200);
      const start = performance.now();
      let status = 0;
      while (status !== 403 && performance.now() - start < 30_000) status = (await via()).status;
      expect(status).toBe(403);
      // A figure for the notes, not a threshold: how long the remembered yes outlived the revocation.
      process.stdout.write(
        `gateway: revoked → denied through the 1 s cache after ${Math.round(performance.now() - start)} ms\n`,
      );
    } finally {
      await shipped.stop();
    }
  });
});

describe('figures (printed for the notes; no threshold)', () => {
  it('credential reviews over kept-alive connections, straight to the admin API', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: w.caPem, ...w.gatewayCert });
    const headers = escaped(own('gwok').cert!);
    const one = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const t = performance.now();
        const req = request(`${w.api.url}/api/v1/credential-reviews`, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(performance.now() - t)
              : reject(new Error(String(res.statusCode))),
          );
        });
        req.on('error', reject);
        req.end();
      });
    for (let i = 0; i < 200; i++) await one();
    const took: number[] = [];
    const start = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 500; i++) took.push(await one());
      }),
    );
    const wall = performance.now() - start;
    took.sort((a, b) => a - b);
    const q = (p: number) => took[Math.min(took.length - 1, Math.floor(p * took.length))]!.toFixed(2);
    process.stdout.write(
      `gateway: ${took.length} reviews, 8 in flight: ${Math.round((took.length / wall) * 1000)}/s, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms\n`,
    );
    agent.destroy();
    expect(took.length).toBe(4000);
  });
});
