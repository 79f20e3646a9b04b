// Attacker: someone holding a credential kubeusers took away (revoked, from an account removed and
// re-added, from before kubeusers' state was lost) or one issued by another kubeusers installation on
// the same cluster. They have only that certificate and its key (a leaked copy of a home's files).
// Defence: epoch groups name the installation and a random epoch id that is never drawn twice; the
// admin API refuses certificates in the revocation ledger and any that are not an account's current one.
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { certInfo } from '../../../src/pki/cert.ts';
import { kubectl, testEnv } from '../../env/index.ts';
import { startApi, type Caller, type RunningApi } from '../api/support.ts';
import { scenario, type Scenario } from '../support.ts';

/** Setup steps only (deleting kubeusers' state, reading it): the cluster admin's kubeconfig file. */
const setupKubeconfig = (): string => testEnv().kube.adminKubeconfig;
function setupCore(): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(setupKubeconfig());
  return kc.makeApiClient(k8s.CoreV1Api);
}

let a: Scenario; // installation A: project rv, namespace kubeusers-rv
let b: Scenario; // installation B on the same cluster: project rb, namespace kubeusers-rb
let apiA: RunningApi;
let apiB: RunningApi;
let bossA: Caller;
/** Leaked copies of A's credentials, taken before B's first sync (B writes the shared admin home). */
const leakedFromA: Record<string, { kubeconfig: string; caller: Caller }> = {};
/** The serial of the certificate each case's attacker holds. */
const leakedSerial: Record<string, string> = {};

const toolHome = (s: Scenario, t: string): string => join(s.homesRoot, t);
const adminHome = (s: Scenario, u: string): string => join(s.adminHomesRoot, u);

/** A copy of a home's kubeconfig and credential files, as a leaked copy would be. */
function leak(home: string, dir: '.toolskube' | '.admkube'): { kubeconfig: string; caller: Caller } {
  const into = mkdtempSync(join(tmpdir(), 'kubeusers-leak-'));
  cpSync(join(home, '.kube'), join(into, '.kube'), { recursive: true });
  cpSync(join(home, dir), join(into, dir), { recursive: true });
  return {
    kubeconfig: join(into, '.kube', 'config'),
    caller: {
      cert: readFileSync(join(into, dir, 'client.crt'), 'utf8'),
      key: readFileSync(join(into, dir, 'client.key'), 'utf8'),
    },
  };
}

const canI = async (kubeconfig: string, ...args: string[]): Promise<string> =>
  (await kubectl(kubeconfig, ['auth', 'can-i', ...args])).stdout.trim();

async function until(check: () => Promise<boolean>, what: string, ms = 90_000): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const stateOf = async (
  s: Scenario,
  kind: string,
  name: string,
): Promise<Record<string, string> | undefined> =>
  setupCore()
    .readNamespacedConfigMap({ namespace: s.settings.kubernetes.namespace, name: `state-${kind}-${name}` })
    .then((cm) => cm.data ?? {})
    .catch(() => undefined);

/**
 * Syncs until the account is active with a certificate (a re-created tool waits for its old namespace
 * to go); `not`: a serial it must have left behind.
 */
async function syncUntilActive(s: Scenario, kind: string, name: string, not?: string): Promise<void> {
  await until(async () => {
    await s.sync();
    const st = await stateOf(s, kind, name);
    return st?.status === 'active' && st.serial !== not && st.issuing === undefined;
  }, `${kind} ${name} to be active`);
}

const serialIn = async (home: string, dir: string): Promise<string> =>
  (await certInfo(readFileSync(join(home, dir, 'client.crt'), 'utf8'))).serial;

beforeAll(async () => {
  a = await scenario('rv');
  for (const [i, t] of ['rvgone', 'rvlost', 'shared'].entries())
    await a.dir.addTool({ name: t, uidNumber: 64_000 + i });
  for (const [i, u] of ['rvboss', 'rvadm'].entries()) {
    await a.dir.addUser({ user: u, uidNumber: 64_100 + i });
    await a.dir.addToAdminGroup(u);
  }
  expect((await a.sync()).failures).toEqual([]);
  apiA = await startApi(a);
  bossA = leak(adminHome(a, 'rvboss'), '.admkube').caller;
  leakedFromA.tool = leak(toolHome(a, 'shared'), '.toolskube');
  leakedFromA.admin = leak(adminHome(a, 'rvboss'), '.admkube');
  // Installation B: another project with a tool of the same name, and the same admin (one LDAP).
  b = await scenario('rb', {
    homes: { root: join(testEnv().homesRoot, 'rb'), adminRoot: a.settings.homes.adminRoot },
  });
  await b.dir.addTool({ name: 'shared', uidNumber: 64_200 });
  await b.dir.addToAdminGroup('rvboss');
  expect((await b.sync()).failures).toEqual([]);
  apiB = await startApi(b);
});
afterAll(async () => {
  for (const api of [apiA, apiB]) if (api) await new Promise<void>((r) => api.server.close(() => r()));
});

interface Case {
  /** What happens to the account before the old certificate is tried. */
  setup: () => Promise<{ kubeconfig: string; caller: Caller }>;
  /** Rights the old certificate must not have (kubectl auth can-i arguments). */
  denied: () => string[][];
  /** The admin API that must refuse it, if the account is an admin. */
  api?: () => RunningApi;
  /** The problem code of that refusal. */
  code?: string;
  /** The account's current credentials still work afterwards. */
  current?: () => Promise<void>;
}

const cases: [string, Case][] = [
  [
    '(a) an admin revoked, removed from the admin group and added back',
    {
      setup: async () => {
        const old = leak(adminHome(a, 'rvadm'), '.admkube');
        expect(await canI(old.kubeconfig, 'get', 'pods', '-A')).toBe('yes');
        const oldSerial = await serialIn(adminHome(a, 'rvadm'), '.admkube');
        const r = await apiA.call('POST', '/api/v1/accounts/rvadm/revoke?kind=admin', bossA, {
          reason: 'laptop stolen',
        });
        expect(r.status).toBe(200);
        expect(await canI(old.kubeconfig, 'get', 'pods', '-A')).toBe('no');
        // Found in the revocation ledger (checked before the epoch, which would say `superseded`).
        const refused = await apiA.call('GET', '/api/v1/accounts', old.caller);
        expect({ status: refused.status, code: (refused.body as { code?: string }).code }).toEqual({
          status: 401,
          code: 'credential-revoked',
        });
        await syncUntilActive(a, 'admin', 'rvadm', oldSerial);
        await a.dir.removeFromAdminGroup('rvadm');
        await a.sync();
        expect(await stateOf(a, 'admin', 'rvadm')).toBeUndefined();
        await a.dir.addToAdminGroup('rvadm');
        await syncUntilActive(a, 'admin', 'rvadm');
        return old;
      },
      denied: () => [
        ['get', 'pods', '-A'],
        ['list', 'namespaces'],
      ],
      api: () => apiA,
      code: 'credential-revoked', // in the ledger, whatever its epoch
      current: async () =>
        expect(await canI(join(adminHome(a, 'rvadm'), '.kube', 'config'), 'get', 'pods', '-A')).toBe('yes'),
    },
  ],
  [
    '(b) a tool removed and re-created with the same name',
    {
      setup: async () => {
        const old = leak(toolHome(a, 'rvgone'), '.toolskube');
        expect(await canI(old.kubeconfig, 'get', 'configmaps', '-n', 'rv-rvgone')).toBe('yes');
        leakedSerial.rvgone = await serialIn(toolHome(a, 'rvgone'), '.toolskube');
        await a.dir.deleteTool('rvgone');
        await a.sync();
        await a.dir.addTool({ name: 'rvgone', uidNumber: 64_000 });
        await syncUntilActive(a, 'tool', 'rvgone');
        return old;
      },
      denied: () => [
        ['get', 'configmaps', '-n', 'rv-rvgone'],
        ['create', 'deployments.apps', '-n', 'rv-rvgone'],
      ],
      current: async () => {
        // A certificate of the account's earlier life is never adopted: a new one was issued.
        expect(await serialIn(toolHome(a, 'rvgone'), '.toolskube')).not.toBe(leakedSerial.rvgone);
        expect(await canI(join(toolHome(a, 'rvgone'), '.kube', 'config'), 'get', 'configmaps')).toBe('yes');
      },
    },
  ],
  [
    "(c) kubeusers' state lost after a revocation without reissue",
    {
      setup: async () => {
        const old = leak(toolHome(a, 'rvlost'), '.toolskube');
        leakedSerial.rvlost = await serialIn(toolHome(a, 'rvlost'), '.toolskube');
        const r = await apiA.call('POST', '/api/v1/accounts/rvlost/revoke', bossA, {
          reason: 'leaked',
          reissue: false,
        });
        expect(r.status).toBe(200);
        expect(await canI(old.kubeconfig, 'get', 'configmaps', '-n', 'rv-rvlost')).toBe('no');
        // Setup, with the cluster admin's credentials: kubeusers' state of the account is lost.
        await setupCore().deleteNamespacedConfigMap({
          namespace: a.settings.kubernetes.namespace,
          name: 'state-tool-rvlost',
        });
        await syncUntilActive(a, 'tool', 'rvlost');
        return old;
      },
      denied: () => [['get', 'configmaps', '-n', 'rv-rvlost']],
      current: async () => {
        expect(await serialIn(toolHome(a, 'rvlost'), '.toolskube')).not.toBe(leakedSerial.rvlost);
        expect(await canI(join(toolHome(a, 'rvlost'), '.kube', 'config'), 'get', 'configmaps')).toBe('yes');
      },
    },
  ],
  [
    "(d) installation A's tool certificate against installation B's bindings",
    {
      setup: () => Promise.resolve(leakedFromA.tool!),
      denied: () => [
        ['get', 'configmaps', '-n', 'rb-shared'],
        ['create', 'pods', '-n', 'rb-shared'],
      ],
      current: async () =>
        expect(await canI(leakedFromA.tool!.kubeconfig, 'get', 'configmaps', '-n', 'rv-shared')).toBe('yes'),
    },
  ],
  [
    "(d) installation A's admin certificate against installation B's admin API",
    {
      setup: () => Promise.resolve(leakedFromA.admin!),
      denied: () => [],
      api: () => apiB,
      code: 'foreign-credential',
    },
  ],
];

describe('a credential kubeusers took away, or another installation issued', () => {
  it.each(cases)('%s: gets nothing', async (_, c) => {
    const old = await c.setup();
    // Every right and the API's answer at once, so a failure shows all of them.
    const rights: Record<string, string> = {};
    const codes: string[] = [];
    for (const args of c.denied()) rights[args.join(' ')] = await canI(old.kubeconfig, ...args);
    let api = 'not an admin';
    if (c.api) {
      const r = await c.api().call('GET', '/api/v1/accounts', old.caller);
      const code = (r.body as { code?: string } | undefined)?.code ?? '';
      api = r.status === 401 || r.status === 403 ? 'refused' : `accepted (${r.status})`;
      codes.push(code);
    }
    expect({ rights, api }).toEqual({
      rights: Object.fromEntries(c.denied().map((args) => [args.join(' '), 'no'])),
      api: c.api ? 'refused' : 'not an admin',
    });
    if (c.code) expect(codes).toEqual([c.code]);
    await c.current?.();
  });
});
