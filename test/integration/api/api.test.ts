import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI } from 'openapi-types';
import { certInfo, certMatchesKey } from '../../../src/pki/cert.ts';
import { adminKubeConfig, kubectl } from '../../env/index.ts';
import { cli, kubeconfigOf, scenario, type Scenario } from '../support.ts';
import { credentialsOf, snapshotHome, startApi, type Caller, type RunningApi } from './support.ts';

let s: Scenario;
let api: RunningApi;
const core = () => adminKubeConfig().makeApiClient(k8s.CoreV1Api);
const toolHome = (t: string) => join(s.homesRoot, t);
const adminHome = (u: string) => join(s.adminHomesRoot, u);
let boss: Caller;
const epochOf = async (name: string, kind = 'tool') =>
  (await core().readNamespacedConfigMap({ namespace: 'kubeusers-ap', name: `state-${kind}-${name}` })).data
    ?.epoch;

async function until(check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

async function serviceAccountToken(name: string, bound: boolean): Promise<string> {
  await core().createNamespacedServiceAccount({ namespace: 'kubeusers-ap', body: { metadata: { name } } });
  if (bound) {
    await adminKubeConfig()
      .makeApiClient(k8s.RbacAuthorizationV1Api)
      .createClusterRoleBinding({
        body: {
          metadata: { name: `ap-${name}` },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: 'kubeusers-api-admin',
          },
          subjects: [{ kind: 'ServiceAccount', name, namespace: 'kubeusers-ap' }],
        },
      });
  }
  const tr = await core().createNamespacedServiceAccountToken({
    namespace: 'kubeusers-ap',
    name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  return tr.status?.token ?? '';
}

beforeAll(async () => {
  s = await scenario('ap');
  for (const [i, t] of ['victim', 'other', 'bystander', 'racer', 'sa-target', 'bad-input'].entries())
    await s.dir.addTool({ name: t, uidNumber: 63_000 + i });
  for (const [i, u] of ['boss', 'boss2'].entries()) {
    await s.dir.addUser({ user: u, uidNumber: 63_100 + i });
    await s.dir.addToAdminGroup(u);
  }
  expect((await s.sync()).failures).toEqual([]);
  api = await startApi(s);
  boss = credentialsOf(adminHome('boss'), '.admkube');
});
afterAll(() => new Promise<void>((r) => api.server.close(() => r())));

describe('revocation by an admin', () => {
  it('makes the old kubeconfig Forbidden on the very next request, and the new one works', async () => {
    const leaked = snapshotHome(toolHome('victim'), mkdtempSync(join(tmpdir(), 'kubeusers-leak-')));
    const oldSerial = (
      await certInfo(readFileSync(join(toolHome('victim'), '.toolskube', 'client.crt'), 'utf8'))
    ).serial;
    expect((await kubectl(leaked, ['get', 'configmaps'])).code).toBe(0);
    const r = await api.call('POST', '/api/v1/accounts/victim/revoke', boss, {
      reason: 'pasted in a public chat',
    });
    expect(r.status).toBe(200);
    const denied = await kubectl(leaked, ['get', 'configmaps', '-n', 'ap-victim']);
    expect(denied.stderr).toMatch(/forbidden/i);
    await until(
      async () =>
        (await certInfo(readFileSync(join(toolHome('victim'), '.toolskube', 'client.crt'), 'utf8')))
          .serial !== oldSerial,
    );
    expect((await kubectl(kubeconfigOf(toolHome('victim')), ['get', 'configmaps'])).stderr).toBe('');
    const ledger = await api.call('GET', '/api/v1/revocations?account=victim', boss);
    expect((ledger.body as { items: unknown[] }).items).toEqual([
      expect.objectContaining({
        serial: oldSerial,
        actor: 'boss',
        reason: 'pasted in a public chat',
        account: 'victim',
      }),
    ]);
    const events = await core().listNamespacedEvent({ namespace: 'ap-victim' });
    expect(events.items.map((e) => e.message)).toContainEqual(
      expect.stringMatching(new RegExp(`${oldSerial}.*revoked by boss: pasted in a public chat`)),
    );
    const detail = await api.call('GET', '/api/v1/accounts/victim', boss);
    expect(detail.body).toMatchObject({
      name: 'victim',
      kind: 'tool',
      epoch: 2,
      revocations: [expect.objectContaining({ serial: oldSerial })],
    });
  });
});

describe('the CLI', () => {
  it("revokes with the admin's own kubeconfig, and shows the account through the API", async () => {
    const leaked = snapshotHome(toolHome('bystander'), mkdtempSync(join(tmpdir(), 'kubeusers-leak-')));
    const caFile = join(s.env.dir, 'api-ca.crt');
    writeFileSync(caFile, api.caPem);
    const common = ['--api', api.url, '--api-ca', caFile, '--kubeconfig', kubeconfigOf(adminHome('boss'))];
    const r = await cli(['revoke', 'bystander', '--reason', 'found in a public repository', ...common]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^revoked tool\/bystander: certificate [0-9a-f]+ \(sha256 [0-9a-f]{64}\)/);
    expect((await kubectl(leaked, ['get', 'configmaps', '-n', 'ap-bystander'])).stderr).toMatch(/forbidden/i);
    const st = await cli(['status', 'bystander', '--json', ...common]);
    expect(JSON.parse(st.stdout)).toMatchObject({
      name: 'bystander',
      epoch: 2,
      revocations: [expect.objectContaining({ actor: 'boss' })],
    });
    const denied = await cli([
      'revoke',
      'victim',
      '--reason',
      'x',
      '--api',
      api.url,
      '--api-ca',
      caFile,
      '--kubeconfig',
      kubeconfigOf(toolHome('other')),
    ]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/403 forbidden/);
  });
});

describe('who may call', () => {
  it("refuses a tool's own credentials with 403 and changes nothing", async () => {
    const before = await epochOf('victim');
    const r = await api.call('POST', '/api/v1/accounts/victim/revoke', credentialsOf(toolHome('other')), {
      reason: 'x',
    });
    expect(r.status).toBe(403);
    expect(r.type).toMatch(/application\/problem\+json/);
    expect(await epochOf('victim')).toBe(before);
  });

  it('refuses no credentials with 401', async () => {
    const r = await api.call('GET', '/api/v1/accounts', {});
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ status: 401, code: 'unauthenticated' });
  });

  it("refuses a revoked admin's old certificate", async () => {
    const old = credentialsOf(adminHome('boss2'), '.admkube');
    expect((await api.call('GET', '/api/v1/accounts', old)).status).toBe(200);
    const r = await api.call('POST', '/api/v1/accounts/boss2/revoke?kind=admin', boss, {
      reason: 'left the team',
      reissue: false,
    });
    expect(r.status).toBe(200);
    const after = await api.call('GET', '/api/v1/accounts', old);
    expect([401, 403]).toContain(after.status);
    expect(after.body).toMatchObject({ code: 'credential-revoked' });
  });

  it('lets a ServiceAccount token bound to the kubeusers ClusterRole list and revoke, and not one without it', async () => {
    const good = await serviceAccountToken('automation', true);
    const bad = await serviceAccountToken('nobody', false);
    await until(async () => (await api.call('GET', '/api/v1/accounts', { token: good })).status === 200);
    const list = await api.call('GET', '/api/v1/accounts?kind=tool&limit=2', { token: good });
    expect((list.body as { items: unknown[] }).items).toHaveLength(2);
    expect((list.body as { continue?: string }).continue).toBeDefined();
    expect(
      (await api.call('POST', '/api/v1/accounts/sa-target/revoke', { token: good }, { reason: 'automated' }))
        .status,
    ).toBe(200);
    expect((await api.call('GET', '/api/v1/accounts', { token: bad })).status).toBe(403);
    expect(
      (await api.call('POST', '/api/v1/accounts/bystander/revoke', { token: bad }, { reason: 'x' })).status,
    ).toBe(403);
    expect((await api.call('GET', '/api/v1/accounts', { token: 'not-a-token' })).status).toBe(401);
  });
});

describe('bad requests', () => {
  const cases: [string, string, string, string | object | undefined, number, string][] = [
    ['an unknown account', 'POST', '/api/v1/accounts/nosuchtool/revoke', { reason: 'x' }, 404, 'not-found'],
    ['a name with a slash', 'POST', '/api/v1/accounts/a%2Fb/revoke', { reason: 'x' }, 400, 'invalid-name'],
    [
      'a name with ..',
      'POST',
      '/api/v1/accounts/..%2Fbad-input/revoke',
      { reason: 'x' },
      400,
      'invalid-name',
    ],
    ['an upper-case name', 'POST', '/api/v1/accounts/Bad-Input/revoke', { reason: 'x' }, 400, 'invalid-name'],
    [
      'a 300-character name',
      'POST',
      `/api/v1/accounts/${'a'.repeat(300)}/revoke`,
      { reason: 'x' },
      400,
      'invalid-name',
    ],
    ['a non-JSON body', 'POST', '/api/v1/accounts/bad-input/revoke', 'reason=x', 400, 'invalid-json'],
    [
      'a 2 MB body',
      'POST',
      '/api/v1/accounts/bad-input/revoke',
      JSON.stringify({ reason: 'x'.repeat(2_000_000) }),
      400,
      'body-too-large',
    ],
    [
      'an unknown field',
      'POST',
      '/api/v1/accounts/bad-input/revoke',
      { reason: 'x', now: true },
      400,
      'unknown-field',
    ],
    ['a missing reason', 'POST', '/api/v1/accounts/bad-input/revoke', {}, 400, 'invalid-request'],
    ['a bad kind', 'GET', '/api/v1/accounts/bad-input?kind=robot', undefined, 400, 'invalid-request'],
  ];
  it.each(cases)(
    '%s gives the documented 4xx and changes nothing',
    async (_, method, path, body, status, code) => {
      const before = await epochOf('bad-input');
      const r = await api.call(method, path, boss, body);
      expect(r.status).toBe(status);
      expect(r.body).toMatchObject({ status, code });
      expect(r.text).not.toMatch(/BEGIN|\/tmp\/|node_modules/);
      const after = await api.call('GET', '/api/v1/accounts/bad-input', boss);
      expect(after.body).toMatchObject({ epoch: Number(before) });
    },
  );

  it('answers 1,000 randomised malformed requests without a 5xx, and the daemon keeps syncing', async () => {
    const pieces = [
      '',
      '/',
      '%2F',
      '..',
      'A',
      'x'.repeat(70),
      '%00',
      '"',
      '{',
      '?kind=',
      '&',
      '%',
      'bad-input',
      'revoke',
      'renew',
      ';',
      '\u00e9',
    ];
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const path = `/api/v1/accounts/${Array.from({ length: 1 + rnd(3) }, () => encodeURIComponent(pieces[rnd(pieces.length)]!)).join('')}/${rnd(2) ? 'revoke' : 'renew'}?kind=${pieces[rnd(pieces.length)]!}`;
      const body = [
        undefined,
        '{',
        '[]',
        'null',
        '{"reason":1}',
        '{"reason":"x","reissue":"yes"}',
        'x'.repeat(rnd(40_000)),
      ][rnd(7)];
      const r = await api.call(['GET', 'POST', 'PUT', 'DELETE'][rnd(4)]!, path, rnd(4) ? boss : {}, body);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect(r.status).toBeLessThan(500);
    }
    expect([...statuses.keys()].every((st) => st >= 200 && st < 500)).toBe(true);
    const sync = await s.sync();
    expect(sync.failures).toEqual([]);
  });

  it('rate-limits a client with 429', async () => {
    const tight = await startApi(s, { requestsPerMinute: 5 });
    try {
      const replies = await Promise.all(
        Array.from({ length: 8 }, () => tight.call('GET', '/api/v1/accounts', boss)),
      );
      expect(replies.map((r) => r.status)).toContain(429);
      expect(replies.find((r) => r.status === 429)?.body).toMatchObject({ code: 'rate-limited' });
    } finally {
      await new Promise<void>((r) => tight.server.close(() => r()));
    }
  });
});

describe('revoke racing renew', () => {
  it('ends with one valid credential in the home, its serial recorded', async () => {
    const [a, b] = await Promise.all([
      api.call('POST', '/api/v1/accounts/racer/revoke', boss, { reason: 'race' }),
      api.call('POST', '/api/v1/accounts/racer/renew', boss),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 202]);
    const state = async () =>
      (await core().readNamespacedConfigMap({ namespace: 'kubeusers-ap', name: 'state-tool-racer' })).data!;
    await until(async () => {
      const st = await state();
      return st.issuing === undefined && st.certEpoch === st.epoch;
    });
    await s.sync({ only: new Set(['tool/racer']) });
    const st = await state();
    const cert = readFileSync(join(toolHome('racer'), '.toolskube', 'client.crt'), 'utf8');
    const key = readFileSync(join(toolHome('racer'), '.toolskube', 'client.key'), 'utf8');
    const info = await certInfo(cert);
    expect(info.serial).toBe(st.serial);
    expect(await certMatchesKey(cert, key)).toBe(true);
    expect(info.groups).toContain(`kubeusers:kubeusers-ap:tool:racer:${st.epochId}`);
    expect((await kubectl(kubeconfigOf(toolHome('racer')), ['get', 'configmaps'])).code).toBe(0);
  });
});

describe('the OpenAPI document', () => {
  it('validates, and lists exactly the routes the app serves', async () => {
    const r = await api.call('GET', '/api/v1/openapi.json', {});
    const doc = r.body as OpenAPI.Document;
    await SwaggerParser.validate(structuredClone(doc));
    const { createApiApp } = await import('../../../src/api/app.ts');
    const { apiDeps } = await import('../../../src/api/wire.ts');
    const app = createApiApp(apiDeps(s.app)) as unknown as {
      router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
    };
    const served = app.router.stack
      .filter((l) => l.route)
      .flatMap((l) =>
        Object.keys(l.route!.methods).map(
          (m) => `${m.toUpperCase()} ${l.route!.path.replace(/:(\w+)/g, '{$1}')}`,
        ),
      )
      .sort();
    const documented = Object.entries((doc as { paths: Record<string, Record<string, unknown>> }).paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    expect(served).toEqual(documented);
  });
});
