import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { buildCsrPem } from '../../../src/pki/csr.ts';
import { certInfo, certMatchesKey } from '../../../src/pki/cert.ts';
import { generateKey, privateKeyPem } from '../../../src/pki/keys.ts';
import { approveCsr, submitCsr, waitForCertificate } from '../../../src/cluster/csr.ts';
import { loadKubeAccess } from '../../../src/cluster/kubeconfig.ts';
import { kubeconfigYaml } from '../../env/kube.ts';
import { adminKubeConfig, kubectl, testEnv } from '../../env/index.ts';

const env = testEnv();
const admin = adminKubeConfig(env);
const caPem = readFileSync(env.kube.caFile, 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'kubeusers-kube-test-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function issue(cn: string, groups: string[], expirationSeconds: number) {
  const keys = await generateKey('ecdsa-p256');
  const csrPem = await buildCsrPem({ commonName: cn, groups }, keys, 'ecdsa-p256');
  const api = admin.makeApiClient(k8s.CertificatesV1Api);
  const name = `test-${cn}-${process.pid}`;
  const created = await submitCsr(api, { name, csrPem, expirationSeconds });
  const approved = await approveCsr(api, created, 'approved by the foundation test', new Date());
  const cert = await waitForCertificate(await loadKubeAccess(env.kube.adminKubeconfig), approved, 60_000);
  return { cert, key: await privateKeyPem(keys.privateKey), requestedAt: new Date() };
}

function userKubeConfig(pair: { cert: string; key: string }): { file: string; kc: k8s.KubeConfig } {
  const file = join(scratch, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, kubeconfigYaml(env.kube.server, caPem, pair, 'user'), { mode: 0o600 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  return { file, kc };
}

function anonymousGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(`${env.kube.server}${path}`, { ca: caPem }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('the Kubernetes control plane (real kube-apiserver, controller-manager, kubectl)', () => {
  let alice: { cert: string; key: string; requestedAt: Date };

  it('signs an approved kube-apiserver-client CSR with the requested lifetime', async () => {
    alice = await issue('alice', ['team-a'], 3600);
    const info = await certInfo(alice.cert);
    expect(info.commonName).toBe('alice');
    expect(info.groups).toEqual(['team-a']);
    expect(await certMatchesKey(alice.cert, alice.key)).toBe(true);
    const lifetime = (info.notAfter.getTime() - alice.requestedAt.getTime()) / 1000;
    // The signer backdates notBefore a little and honours expirationSeconds: about one hour from now.
    expect(lifetime).toBeGreaterThan(3600 - 120);
    expect(lifetime).toBeLessThanOrEqual(3600 + 5);
  });

  it('authenticates with the issued certificate, and RBAC decides what it may do', async () => {
    const { kc } = userKubeConfig(alice);
    const review = await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(review.status?.userInfo?.username).toBe('alice');
    expect(review.status?.userInfo?.groups).toEqual(
      expect.arrayContaining(['team-a', 'system:authenticated']),
    );

    const ns = `rbac-${process.pid}`;
    await admin.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    const pods = kc.makeApiClient(k8s.CoreV1Api);
    await expect(pods.listNamespacedPod({ namespace: ns })).rejects.toMatchObject({ code: 403 });
    await admin.makeApiClient(k8s.RbacAuthorizationV1Api).createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'team-a-view' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'team-a' }],
      },
    });
    // RBAC's authorizer cache follows bindings within moments; poll rather than sleep a fixed time.
    let listed: k8s.V1PodList | undefined;
    for (let i = 0; i < 50 && !listed; i++) {
      listed = await pods.listNamespacedPod({ namespace: ns }).catch(() => undefined);
      if (!listed) await new Promise((r) => setTimeout(r, 100));
    }
    expect(listed?.items).toEqual([]);
  });

  it('kubectl auth whoami prints the certificate user', async () => {
    const { file } = userKubeConfig(alice);
    const out = await kubectl(file, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe('alice');
  });

  it('finishes deleting a namespace that has objects in it', async () => {
    const ns = `doomed-${process.pid}`;
    const core = admin.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'a' }, data: { x: '1' } },
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'b' }, stringData: { y: '2' } },
    });
    await core.deleteNamespace({ name: ns });
    let gone = false;
    for (let i = 0; i < 600 && !gone; i++) {
      gone = await core.readNamespace({ name: ns }).then(
        () => false,
        (err: { code?: number }) => err.code === 404,
      );
      if (!gone) await new Promise((r) => setTimeout(r, 100));
    }
    expect(gone).toBe(true);
  });

  it('publishes kube-public/cluster-info like kubeadm, readable anonymously', async () => {
    const res = await anonymousGet('/api/v1/namespaces/kube-public/configmaps/cluster-info');
    expect(res.status).toBe(200);
    const cm = JSON.parse(res.body) as k8s.V1ConfigMap;
    expect(cm.data?.kubeconfig).toContain(`server: ${env.kube.server}`);
    expect(cm.data?.kubeconfig).toContain(
      `certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    );
    // Anything else stays closed to anonymous callers.
    expect((await anonymousGet('/api/v1/namespaces/kube-public/configmaps')).status).toBe(403);
  });
});
