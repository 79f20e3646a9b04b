// kubeusers runs here as the deploy/ ServiceAccount, with the deploy/ ClusterRole and nothing else.
// Every rule is needed: with any one removed, some part of a full sync, revocation and clean-up fails.
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { apiDeps } from '../../../src/api/wire.ts';
import { Ledger } from '../../../src/cluster/ledger.ts';
import { LeaderElector } from '../../../src/cluster/leader.ts';
import { readClusterInfo } from '../../../src/cluster/cluster-info.ts';
import { ensureOwnNamespace } from '../../../src/main.ts';
import { approveCsr, submitCsr, waitForCertificate } from '../../../src/cluster/csr.ts';
import { loadKubeAccess } from '../../../src/cluster/kubeconfig.ts';
import { buildCsrPem } from '../../../src/pki/csr.ts';
import { generateKey, privateKeyPem } from '../../../src/pki/keys.ts';
import { adminKubeConfig, kubectl, testEnv } from '../../env/index.ts';
import { scenario, type Scenario } from '../support.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const rbacFile = join(repo, 'deploy', 'base', 'rbac.yaml');
let s: Scenario;
/** The ClusterRole and the Roles deploy/ gives kubeusers' ServiceAccount. */
let roles: k8s.V1Role[];
let token = '';

async function applyRole(role: k8s.V1Role, rules: k8s.V1PolicyRule[]): Promise<void> {
  const api = adminKubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
  const name = role.metadata!.name!;
  const namespace = role.metadata?.namespace;
  if (namespace) {
    const current = await api.readNamespacedRole({ name, namespace });
    await api.replaceNamespacedRole({ name, namespace, body: { ...current, rules } });
  } else {
    const current = await api.readClusterRole({ name });
    await api.replaceClusterRole({ name, body: { ...current, rules } });
  }
  await new Promise((r) => setTimeout(r, 300));
}

/** A full round: provision, revoke, lock, remove, review a token, lead, prune the ledger, read the audit. */
async function workload(tag: string): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
    }
  };
  const logsBefore = s.logs.length;
  await attempt('setup', () => ensureOwnNamespace(s.app));
  await attempt('cluster-info', () => readClusterInfo(s.app.clients));
  await s.dir.addTool({ name: `${tag}a`, uidNumber: 65_000 + Math.floor(Math.random() * 9000) });
  await s.dir.addTool({ name: `${tag}b`, uidNumber: 65_000 + Math.floor(Math.random() * 9000) });
  await s.dir.addUser({ user: `${tag}adm`, uidNumber: 74_000 + Math.floor(Math.random() * 9000) });
  await s.dir.addToAdminGroup(`${tag}adm`);
  const syncOk = async (what: string) => {
    const r = await s.sync();
    for (const f of r.failures) problems.push(`${what}: ${f.account}: ${f.error}`);
  };
  await attempt('sync', () => syncOk('sync'));
  await attempt('csr cleanup', async () => {
    // kubeusers deletes its CSR once the certificate is written (errors there are only logged).
    const left = await adminKubeConfig()
      .makeApiClient(k8s.CertificatesV1Api)
      .readCertificateSigningRequest({ name: `kubeusers-tool-${tag}b` })
      .then(
        () => true,
        () => false,
      );
    if (left) throw new Error(`CSR kubeusers-tool-${tag}b was not deleted`);
  });
  const deps = apiDeps(s.app);
  await attempt('revoke', () =>
    deps.revoke({ kind: 'tool', name: `${tag}a`, actor: 'test', reason: 'least privilege', reissue: false }),
  );
  await s.dir.lock(s.dir.toolDn(`${tag}b`));
  await s.dir.deleteTool(`${tag}a`);
  await s.dir.removeFromAdminGroup(`${tag}adm`);
  await attempt('lock and remove', () => syncOk('lock and remove'));
  await attempt('token review', async () => {
    const r = await s.app.clients.authentication.createTokenReview({ body: { spec: { token } } });
    if (!r.status?.authenticated) throw new Error('not authenticated');
  });
  await attempt('audit', async () => {
    await s.app.clients.core.listNamespacedEvent({ namespace: 'kubeusers' });
  });
  await attempt('ledger', () =>
    new Ledger(s.app.clients, 'kubeusers').prune(new Date(Date.now() + 365 * 86_400_000)),
  );
  await attempt('leader', async () => {
    const elector = new LeaderElector(
      s.app.clients.kc,
      {
        namespace: 'kubeusers',
        name: `lp-${tag}`,
        identity: 'lp',
        leaseDurationMs: 4000,
        renewDeadlineMs: 3000,
        retryPeriodMs: 200,
      },
      s.app.log,
      { started: () => undefined, stopped: () => undefined },
    );
    elector.start();
    await new Promise((r) => setTimeout(r, 800));
    const ok = elector.writable().ok;
    await elector.stop();
    if (!ok) throw new Error('could not take the lease');
  });
  for (const line of s.logs.slice(logsBefore))
    if (/could not record/.test(line)) problems.push(`event: ${line.slice(0, 160)}`);
  return problems;
}

beforeAll(async () => {
  const env = testEnv();
  const admin = env.kube.adminKubeconfig;
  for (const f of [
    'namespace.yaml',
    'rbac.yaml',
    'clusterrole-tool.yaml',
    'clusterrole-admin-impersonate.yaml',
    'clusterrole-api-admin.yaml',
    // As `kubectl apply -k deploy/base` does before the daemon starts: creating a policy with a
    // paramKind takes `get` on every object of that kind, which kubeusers does not hold.
    'pod-identity.yaml',
  ]) {
    const r = await kubectl(admin, [
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      join(repo, 'deploy', 'base', f),
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  roles = parseAllDocuments(readFileSync(rbacFile, 'utf8'))
    .map((d) => d.toJS() as k8s.V1Role)
    .filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
  const tr = await adminKubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .createNamespacedServiceAccountToken({
      namespace: 'kubeusers',
      name: 'kubeusers',
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
  token = tr.status?.token ?? '';
  const kubeconfig = join(env.dir, 'kubeusers-sa.kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server: env.kube.server, 'certificate-authority': env.kube.caFile } },
      ],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'sa' } }],
      'current-context': 'c',
    }),
    { mode: 0o600 },
  );
  s = await scenario('lp', {
    // The prefix deploy/'s guard allows tool namespaces under (kubeusers-guard.yaml).
    kubernetes: { kubeconfig, namespace: 'kubeusers', namespacePrefix: 'tool-lp-', clusterName: 'test' },
  });
});

/** The rules of one role whose removal breaks nothing. */
async function spareRules(role: k8s.V1Role, tag: string): Promise<string[]> {
  const rules = role.rules ?? [];
  const spare: string[] = [];
  try {
    for (const [i, rule] of rules.entries()) {
      await applyRole(
        role,
        rules.filter((_, j) => j !== i),
      );
      if ((await workload(`${tag}${i}x`)).length === 0)
        spare.push(`${role.kind} ${role.metadata?.name}: ${JSON.stringify(rule)}`);
    }
  } finally {
    await applyRole(role, rules);
  }
  return spare;
}

describe('the deploy/ ClusterRole and Roles', () => {
  it('are enough for a full sync, revocation and clean-up as the deploy/ ServiceAccount, under the guard', async () => {
    expect(await workload('full')).toEqual([]);
  });

  it("are enough for the cluster cache's lists and watches (the daemon's, on every replica)", async () => {
    const started = s.app.cache.start();
    try {
      const deadline = Date.now() + 30_000;
      const both = (): boolean => s.app.cache.synced() && s.app.cache.history.synced();
      while (!both() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(s.app.cache.unsynced()).toEqual([]);
      // The accounts' Events and ledger, which the admin API answers from.
      expect(s.app.cache.history.synced()).toBe(true);
    } finally {
      await s.app.cache.stop();
      await started;
    }
  });

  it('have no rule to spare: removing any one breaks something', async () => {
    const spare: string[] = [];
    for (const [r, role] of roles.entries()) spare.push(...(await spareRules(role, `r${r}`)));
    expect(spare).toEqual([]);
  });
});

/**
 * What maintain-kubeusers leaves for a tool (as test/integration/core/migration.test.ts seeds it):
 * an unlabelled namespace with its ConfigMap, a binding of the user, a certificate CN=<tool> in the
 * home. All made with cluster-admin credentials, as the old daemon had them.
 */
async function seedLegacy(tool: string, uid: number): Promise<string> {
  const admin = adminKubeConfig();
  const ns = `tool-lp-${tool}`;
  const core = admin.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: ns, labels: { name: ns, tenancy: 'tool' } } } });
  await core.createNamespacedConfigMap({
    namespace: ns,
    body: {
      metadata: { name: 'maintain-kubeusers' },
      data: { status: 'user created: True', expires: new Date(Date.now() + 200 * 86_400_000).toISOString() },
    },
  });
  const keys = await generateKey('ecdsa-p256');
  const csrPem = await buildCsrPem({ commonName: tool, groups: ['toolforge'] }, keys, 'ecdsa-p256');
  const api = admin.makeApiClient(k8s.CertificatesV1Api);
  const csr = await submitCsr(api, { name: `legacy-lp-${tool}`, csrPem, expirationSeconds: 86_400 });
  const certPem = await waitForCertificate(
    await loadKubeAccess(testEnv().kube.adminKubeconfig),
    await approveCsr(api, csr, 'maintain-kubeusers', new Date()),
    60_000,
  );
  await api.deleteCertificateSigningRequest({ name: `legacy-lp-${tool}` });
  const home = join(s.homesRoot, tool);
  for (const d of [home, join(home, '.toolskube')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, uid);
  }
  writeFileSync(join(home, '.toolskube', 'client.crt'), certPem);
  writeFileSync(join(home, '.toolskube', 'client.key'), await privateKeyPem(keys.privateKey), {
    mode: 0o600,
  });
  await s.dir.addTool({ name: tool, uidNumber: uid });
  return certPem;
}

describe('deploy/migration', () => {
  const certIn = (tool: string) => readFileSync(join(s.homesRoot, tool, '.toolskube', 'client.crt'), 'utf8');
  const migration = (verb: 'apply' | 'delete') =>
    kubectl(testEnv().kube.adminKubeconfig, [
      verb,
      ...(verb === 'apply' ? ['--server-side'] : ['--ignore-not-found']),
      '-k',
      join(repo, 'deploy', 'migration'),
    ]);

  it("is what lets the ServiceAccount adopt maintain-kubeusers' certificates, under the guard", async () => {
    expect((await migration('apply')).code).toBe(0);
    try {
      const legacy = await seedLegacy('mgadopt', 66_000 + Math.floor(Math.random() * 999));
      await new Promise((r) => setTimeout(r, 300));
      const r = await s.sync();
      expect(r.failures).toEqual([]);
      expect(certIn('mgadopt')).toBe(legacy);
      const binding = await adminKubeConfig()
        .makeApiClient(k8s.RbacAuthorizationV1Api)
        .readNamespacedRoleBinding({ name: 'kubeusers-tool', namespace: 'tool-lp-mgadopt' });
      expect(binding.subjects?.map((x) => `${x.kind}/${x.name}`)).toContain('User/mgadopt');
    } finally {
      await migration('delete');
    }
  });

  it('without it, a fresh certificate replaces the old one', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const legacy = await seedLegacy('mgissue', 67_000 + Math.floor(Math.random() * 999));
    const r = await s.sync();
    expect(r.failures).toEqual([]);
    expect(certIn('mgissue')).not.toBe(legacy);
    expect(s.logs.some((l) => /deploy\/migration is not applied/.test(l))).toBe(true);
  });
});
