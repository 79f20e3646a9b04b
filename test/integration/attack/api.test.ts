// The admin API attacked with a stranger's means: an HTTPS client with no credential or a garbage
// token, a tool's own certificate, a web page that makes an admin's browser send a request, a token
// minted for another audience. Issue 13, points 10 and 12.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { testEnv } from '../../env/index.ts';
import { scenario, type Scenario } from '../support.ts';
import { auditOffset, auditedSince } from '../../env/audit.ts';
import {
  credentialsOf,
  startApi,
  type ApiOverrides,
  type Caller,
  type Reply,
  type RunningApi,
} from '../api/support.ts';

const P = 'xapi';
const NS = `kubeusers-${P}`;
const AUDIENCE = `kubeusers-api-${P}`;
let s: Scenario;
let chief: Caller;
const running: RunningApi[] = [];

// Setup only: the cluster admin's kubeconfig, to create ServiceAccounts and RBAC as an operator would.
function setupKubeconfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testEnv().kube.adminKubeconfig);
  return kc;
}
const setupCore = (): k8s.CoreV1Api => setupKubeconfig().makeApiClient(k8s.CoreV1Api);
const setupRbac = (): k8s.RbacAuthorizationV1Api =>
  setupKubeconfig().makeApiClient(k8s.RbacAuthorizationV1Api);

async function api(overrides: ApiOverrides = {}): Promise<RunningApi> {
  const a = await startApi(s, overrides);
  running.push(a);
  return a;
}

const epochOf = async (name: string, kind = 'tool'): Promise<string | undefined> =>
  // Setup-level read of kubeusers' own state, to prove that nothing changed.
  (await setupCore().readNamespacedConfigMap({ namespace: NS, name: `state-${kind}-${name}` })).data?.epoch;

/** A token shaped like a JWT (so that no format check can refuse it unseen), signed by nobody. */
const garbageToken = (): string =>
  `eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.${randomBytes(180).toString('base64url')}.${randomBytes(256).toString('base64url')}`;

/** `count` requests, `width` at a time; the statuses seen, with how often. */
async function flood(
  count: number,
  send: (i: number) => Promise<Reply>,
  width = 16,
): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const r = await send(next++);
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
      }
    }),
  );
  return seen;
}

/** The reconciler's own client: the user agent kubeusers' sync sends. */
const RECONCILER_AGENT = `kubeusers/${NS}/`;

/** A ServiceAccount token (created with setup credentials), optionally bound to a ClusterRole. */
async function serviceAccountToken(
  name: string,
  clusterRole?: string,
  audiences: string[] = [],
): Promise<string> {
  await setupCore()
    .createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name } } })
    .catch(() => undefined);
  if (clusterRole) {
    await setupRbac()
      .createClusterRoleBinding({
        body: {
          metadata: { name: `${P}-${name}` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
          subjects: [{ kind: 'ServiceAccount', name, namespace: NS }],
        },
      })
      .catch(() => undefined);
  }
  const tr = await setupCore().createNamespacedServiceAccountToken({
    namespace: NS,
    name,
    body: { spec: { audiences, expirationSeconds: 3600 } },
  });
  return tr.status?.token ?? '';
}

async function until(check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('timed out');
}

beforeAll(async () => {
  s = await scenario(P);
  for (const [i, t] of ['victim', 'twin', 'noisy'].entries())
    await s.dir.addTool({ name: t, uidNumber: 64_000 + i });
  for (const [i, u] of ['chief', 'twin'].entries()) {
    await s.dir.addUser({ user: u, uidNumber: 64_100 + i });
    await s.dir.addToAdminGroup(u);
  }
  expect((await s.sync()).failures).toEqual([]);
  chief = credentialsOf(join(s.adminHomesRoot, 'chief'), '.admkube');
});
afterAll(async () => {
  await Promise.all(running.map((a) => new Promise<void>((r) => a.server.close(() => r()))));
});

describe('point 10: strangers cannot spend or block an admin', () => {
  it("after 650 garbage-token requests from the admin's address, the admin's own request still succeeds", async () => {
    const a = await api();
    const seen = await flood(650, () => a.call('GET', '/api/v1/accounts', { token: garbageToken() }));
    expect(seen.get(200)).toBeUndefined();
    const r = await a.call('GET', '/api/v1/accounts', chief);
    expect(r.status).toBe(200);
  });

  it("after a tool's 650 requests with its own certificate from the same address, the admin's request still succeeds", async () => {
    const a = await api();
    const tool = credentialsOf(join(s.homesRoot, 'noisy'));
    const seen = await flood(650, () => a.call('GET', '/api/v1/accounts', tool));
    expect(seen.get(200)).toBeUndefined();
    const r = await a.call('GET', '/api/v1/accounts', chief);
    expect(r.status).toBe(200);
  });

  it("a flood of garbage tokens during a sync makes no request through the reconciler's client", async () => {
    const a = await api({ unauthenticatedRequestsPerMinute: 50 });
    let offset = auditOffset();
    await s.sync();
    const quiet = auditedSince(offset).filter((e) => e.agent.startsWith(RECONCILER_AGENT)).length;
    offset = auditOffset();
    const [, result] = await Promise.all([
      flood(400, () => a.call('GET', '/api/v1/accounts', { token: garbageToken() })),
      s.sync(),
    ]);
    expect(result.failures).toEqual([]);
    const during = auditedSince(offset);
    const reconciler = during.filter((e) => e.agent.startsWith(RECONCILER_AGENT));
    expect(reconciler.filter((e) => e.resource === 'tokenreviews')).toHaveLength(0);
    expect(reconciler).toHaveLength(quiet);
    // Once an address has failed its allowance, no further review is made for it.
    expect(during.filter((e) => e.resource === 'tokenreviews').length).toBeLessThanOrEqual(50);
  });
});

describe('point 12: bodies a browser can send cross-site, and bytes that are not text', () => {
  const cases: [string, string | undefined, string | Buffer, number, string][] = [
    [
      'text/plain',
      'text/plain',
      JSON.stringify({ reason: 'csrf', reissue: false }),
      415,
      'unsupported-media-type',
    ],
    [
      'form-encoded',
      'application/x-www-form-urlencoded',
      'reason=csrf&reissue=false',
      415,
      'unsupported-media-type',
    ],
    [
      'multipart',
      'multipart/form-data; boundary=x',
      '--x\r\n\r\ncsrf\r\n--x--\r\n',
      415,
      'unsupported-media-type',
    ],
    [
      'JSON in Latin-1',
      'application/json; charset=iso-8859-1',
      '{"reason":"csrf"}',
      415,
      'unsupported-media-type',
    ],
    [
      'a reason that is not UTF-8',
      'application/json',
      Buffer.concat([Buffer.from('{"reason":"leak '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]),
      400,
      'invalid-encoding',
    ],
  ];
  it.each(cases)(
    'a revoke sent as %s is refused and revokes nothing',
    async (_, type, body, status, code) => {
      const a = await api({ requestsPerMinute: 100_000 });
      const before = await epochOf('victim');
      const r = await a.call(
        'POST',
        '/api/v1/accounts/victim/revoke',
        chief,
        body,
        type ? { 'content-type': type } : {},
      );
      expect({ status: r.status, code: (r.body as { code?: string } | undefined)?.code }).toEqual({
        status,
        code,
      });
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(await epochOf('victim')).toBe(before);
    },
  );
});

describe('point 10: who is asking, and about whom', () => {
  it("a tool's own certificate, its name equal to an admin's, is refused where that admin is allowed", async () => {
    const a = await api({ requestsPerMinute: 100_000 });
    const tool = await a.call('GET', '/api/v1/accounts', credentialsOf(join(s.homesRoot, 'twin')));
    const admin = await a.call(
      'GET',
      '/api/v1/accounts',
      credentialsOf(join(s.adminHomesRoot, 'twin'), '.admkube'),
    );
    expect({ tool: tool.status, admin: admin.status }).toEqual({ tool: 403, admin: 200 });
  });

  it('a grant to revoke tool twin (by its user name) does not reach admin twin', async () => {
    // Setup: an operator's grant, revoke on the tool's account only.
    await setupRbac()
      .createClusterRole({
        body: {
          metadata: { name: `${P}-revoke-tool-twin` },
          rules: [
            {
              apiGroups: ['kubeusers.io'],
              resources: ['accounts'],
              verbs: ['revoke'],
              resourceNames: [`${P}.twin`],
            },
          ],
        },
      })
      .catch(() => undefined);
    const helpdesk = await serviceAccountToken('helpdesk', `${P}-revoke-tool-twin`);
    const a = await api({ requestsPerMinute: 100_000 });
    const body = { reason: 'helpdesk', reissue: false };
    const adminBefore = await epochOf('twin', 'admin');
    // RBAC reaches the authorizer through an informer: wait until the grant works where it should.
    let onTool: Reply | undefined;
    await until(async () => {
      onTool = await a.call('POST', '/api/v1/accounts/twin/revoke?kind=tool', { token: helpdesk }, body);
      return onTool.status !== 403;
    }, 10_000).catch(() => undefined);
    expect(onTool?.status).toBe(200);
    const onAdmin = await a.call(
      'POST',
      '/api/v1/accounts/twin/revoke?kind=admin',
      { token: helpdesk },
      body,
    );
    expect(onAdmin.status).toBe(403);
    expect(await epochOf('twin', 'admin')).toBe(adminBefore);
  });
});

describe('point 10: token audiences', () => {
  const cases: [string, string[], number][] = [
    ["the API server's own audience", [], 401],
    ['another service', ['vault'], 401],
    ["kubeusers' audience", [AUDIENCE], 200],
  ];
  it.each(cases)('a token minted for %s, with audiences configured', async (_, audiences, status) => {
    const a = await api({ audiences: [AUDIENCE], requestsPerMinute: 100_000 });
    const token = await serviceAccountToken(
      `aud-${audiences.length ? audiences[0] : 'default'}`.replace(/[^a-z0-9-]/g, '-'),
      'kubeusers-api-admin',
      audiences,
    );
    // RBAC reaches the authorizer through an informer: a fresh binding may answer 403 for a moment.
    let r = await a.call('GET', '/api/v1/accounts', { token });
    await until(
      async () => (r = await a.call('GET', '/api/v1/accounts', { token })).status !== 403,
      10_000,
    ).catch(() => undefined);
    expect(r.status).toBe(status);
  });
});
