// The migration of 1,000 tools from maintain-kubeusers, in its exact formats (migration-fixtures.ts):
// the first sync creates no CSR for any valid certificate (the apiserver's audit log says so) and
// renews the one come due. Fixtures stay fast: a pool of four RSA-4096 keys (PKCS#1, `openssl genrsa
// -traditional`), and the certificates signed by `openssl ca`, one run per date of issue.
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { certInfo } from '../../../src/pki/cert.ts';
import { adminKubeConfig, generatedTools, kubectl, testEnv } from '../../env/index.ts';
import { kubeconfigOf, scenario, scenarioInput, type Scenario } from '../support.ts';
import { auditOffset, auditedSince, csrCreates } from '../../env/audit.ts';
import {
  daysFrom,
  LegacyCa,
  seedLegacyCluster,
  seedLegacyHome,
  type LegacyKey,
  type LegacyTool,
} from './migration-fixtures.ts';

const N = 1_000;
const NS = 'kubeusers-ms';
const POOL = 4;
/** Dates of issue: one `openssl ca` run each. */
const GROUPS = 10;
/** Issued 360 days ago for a year: past 2/3 of its lifetime, so renewed on the first sync. */
const NEAR = 'm-00777';

let s: Scenario;
const tools = new Map<string, LegacyTool & { serial: string }>();
let firstSync: Awaited<ReturnType<Scenario['sync']>>;
let firstSyncOffset: number;
const seconds: Record<string, number> = {};

const timed = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  const result = await f();
  seconds[label] = (performance.now() - t) / 1000;
  return result;
};

/** Runs `f` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, f: (item: T, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, worker) => {
      while (next < items.length) await f(items[next++]!, worker);
    }),
  );
}

async function states(): Promise<Map<string, Record<string, string>>> {
  const list = await adminKubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .listNamespacedConfigMap({ namespace: NS, labelSelector: 'kubeusers.io/role=state' });
  return new Map(list.items.map((cm) => [cm.data?.name ?? '', cm.data ?? {}]));
}

beforeAll(async () => {
  const specs = generatedTools(N, { prefix: 'm', firstUid: 70_000 });
  const base = scenarioInput(testEnv(), 'ms');
  s = await scenario(
    'ms',
    { kubernetes: { ...base.kubernetes, clusterName: 'toolforge' } },
    { ownLdap: { tools: specs } },
  );
  const ca = new LegacyCa(4);
  const now = new Date();
  const keys: LegacyKey[] = await timed('keys', () =>
    Promise.all(Array.from({ length: POOL }, () => ca.key('rsa-4096-pkcs1'))),
  );
  const keyOf = (spec: { uidNumber: number }) => keys[spec.uidNumber % POOL]!;
  // One-year certificates issued 10 to 190 days ago (ten dates): valid, and none yet at 2/3 of its
  // lifetime. NEAR was issued 360 days ago.
  const groups = Array.from({ length: GROUPS }, (_, g) => ({
    issued: daysFrom(now, -(10 + 20 * g)),
    specs: specs.filter((spec, i) => i % GROUPS === g && spec.name !== NEAR),
  }));
  const certs = new Map<string, string>();
  await timed('certificates', async () => {
    await pool(groups, ca.concurrency, async ({ issued, specs: members }, worker) => {
      const signed = await ca.signMany(
        members.map((spec) => ({ tool: spec.name, key: keyOf(spec) })),
        issued,
        daysFrom(issued, 365),
        worker,
      );
      for (const [tool, pem] of signed) certs.set(tool, pem);
    });
    const issued = daysFrom(now, -360);
    certs.set(NEAR, await ca.sign(keys[0]!, NEAR, issued, daysFrom(issued, 365)));
  });
  for (const spec of specs) {
    const certPem = certs.get(spec.name)!;
    const info = await certInfo(certPem);
    tools.set(spec.name, {
      tool: spec.name,
      uid: spec.uidNumber,
      namespace: `ms-${spec.name}`,
      home: join(s.homesRoot, spec.name),
      certPem,
      keyPem: keyOf(spec).pem,
      notAfter: info.notAfter,
      configMap: spec.uidNumber % 2 === 0 ? 'plain' : 'per-tool',
      serial: info.serial,
    });
  }
  expect(tools.size).toBe(N);
  await timed('cluster objects', () =>
    pool([...tools.values()], 16, async (t) => {
      await seedLegacyCluster(t, daysFrom(t.notAfter, -365));
      seedLegacyHome(t);
    }),
  );
  firstSyncOffset = auditOffset();
  firstSync = await timed('first sync', () => s.sync());
  console.log(
    `migration of ${N} tools: ` +
      Object.entries(seconds)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(', '),
  );
}, 1_800_000);
afterAll(() => s.ldap?.stop());

describe(`the migration of ${N} maintain-kubeusers tools`, () => {
  it('the first sync succeeds for every tool', () => {
    expect(firstSync.failures).toEqual([]);
  });

  it('the first sync creates one CSR: for the certificate come due, none for the valid ones', () => {
    const requests = auditedSince(firstSyncOffset, NS);
    expect(csrCreates(requests).map((r) => r.name)).toEqual([`kubeusers-tool-${NEAR}`]);
    // Nor asks to delete a CSR maintain-kubeusers never had (one request per tool before).
    const csrDeletes = requests.filter(
      (r) => r.verb === 'delete' && r.uri.includes('/certificatesigningrequests/'),
    );
    expect(csrDeletes.filter((r) => r.name !== `kubeusers-tool-${NEAR}`)).toEqual([]);
    const byVerb: Record<string, number> = {};
    for (const r of requests) byVerb[r.verb] = (byVerb[r.verb] ?? 0) + 1;
    console.log(`migration: the first sync made ${JSON.stringify(byVerb)} requests`);
  });

  it("every valid certificate is adopted as it is, bound by maintain-kubeusers' user name", async () => {
    const after = await states();
    const adopted = [...tools.values()].filter((t) => {
      const st = after.get(t.tool);
      return st?.status === 'active' && st.serial === t.serial && st.legacyUser === t.tool;
    });
    expect(adopted.map((t) => t.tool)).not.toContain(NEAR);
    expect(adopted).toHaveLength(N - 1);
  });

  it('the certificate come due is renewed', async () => {
    const st = (await states()).get(NEAR)!;
    expect(st).toMatchObject({ status: 'active', certEpoch: '1' });
    expect(st.serial).not.toBe(tools.get(NEAR)!.serial);
    const r = await kubectl(kubeconfigOf(tools.get(NEAR)!.home), ['auth', 'can-i', 'create', 'configmaps']);
    expect(r.stdout.trim()).toBe('yes');
  });

  const sample = Array.from({ length: 10 }, (_, i) => `m-${String(1 + i * 97).padStart(5, '0')}`);
  it.each(sample)(
    "%s: its own kubeconfig works once kubeusers' binding is the only one, with the same files",
    async (tool) => {
      const t = tools.get(tool)!;
      await adminKubeConfig()
        .makeApiClient(k8s.RbacAuthorizationV1Api)
        .deleteNamespacedRoleBinding({ namespace: t.namespace, name: `${tool}-tool-binding` });
      const r = await kubectl(kubeconfigOf(t.home), ['auth', 'can-i', 'create', 'configmaps']);
      expect(r.stdout.trim()).toBe('yes');
      const view = await kubectl(kubeconfigOf(t.home), ['config', 'view', '--minify', '-o', 'json']);
      const config = parse(view.stdout) as {
        contexts: { name: string; context: { namespace?: string } }[];
        users: { user: Record<string, string> }[];
      };
      expect(config.contexts[0]).toMatchObject({ name: 'toolforge', context: { namespace: t.namespace } });
      // kubeusers writes the paths relative to the kubeconfig.
      expect(resolve(dirname(kubeconfigOf(t.home)), config.users[0]?.user['client-key'] ?? '')).toBe(
        join(t.home, '.toolskube', 'client.key'),
      );
    },
  );

  it('the next sync changes nothing and creates no CSR', async () => {
    const offset = auditOffset();
    const next = await timed('second sync', () => s.sync());
    console.log(`migration of ${N} tools: second sync ${seconds['second sync']!.toFixed(1)} s`);
    expect(next.failures).toEqual([]);
    expect(next.done).toEqual([]);
    expect(csrCreates(auditedSince(offset, NS))).toEqual([]);
  });
});
