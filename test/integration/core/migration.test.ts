import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { approveCsr, submitCsr, waitForCertificate } from '../../../src/cluster/csr.ts';
import { x509 } from '../../../src/pki/crypto.ts';
import { buildCsrPem } from '../../../src/pki/csr.ts';
import { certInfo } from '../../../src/pki/cert.ts';
import { generateKey, importPrivateKeyPem, privateKeyPem, signingAlgorithm } from '../../../src/pki/keys.ts';
import { adminKubeConfig, kubectl, testEnv } from '../../env/index.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

let s: Scenario;
const DAY = 86_400;
const admin = () => adminKubeConfig();

/** What maintain-kubeusers leaves: namespace, its ConfigMap with `expires`, a binding of the user, files in the home. */
async function seedLegacy(
  tool: string,
  uid: number,
  cert: { certPem: string; keyPem: string },
  expires: Date,
  cmName: string,
): Promise<void> {
  const ns = `mg-${tool}`;
  const core = admin().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: ns, labels: { name: ns, tenancy: 'tool' } } } });
  await core.createNamespacedConfigMap({
    namespace: ns,
    body: {
      metadata: { name: cmName },
      data: { status: 'user created: True', expires: expires.toISOString() },
    },
  });
  await admin()
    .makeApiClient(k8s.RbacAuthorizationV1Api)
    .createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: `${tool}-tool-binding` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubeusers-tool' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: tool }],
      },
    });
  const home = join(s.homesRoot, tool);
  for (const d of [home, join(home, '.toolskube'), join(home, '.kube')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, uid);
  }
  writeFileSync(join(home, '.toolskube', 'client.crt'), cert.certPem);
  writeFileSync(join(home, '.toolskube', 'client.key'), cert.keyPem, { mode: 0o600 });
  const env = testEnv();
  const ca = Buffer.from(readFileSync(env.kube.caFile)).toString('base64');
  writeFileSync(
    kubeconfigOf(home),
    `apiVersion: v1\nkind: Config\nclusters:\n- name: toolforge\n  cluster: { server: '${env.kube.server}', certificate-authority-data: ${ca} }\nusers:\n- name: tf-${tool}\n  user: { client-certificate: ${home}/.toolskube/client.crt, client-key: ${home}/.toolskube/client.key }\ncontexts:\n- name: toolforge\n  context: { cluster: toolforge, user: tf-${tool}, namespace: ${ns} }\ncurrent-context: toolforge\n`,
    { mode: 0o600 },
  );
}

/** A maintain-kubeusers certificate, signed by the cluster: CN=<tool>, O=toolforge. */
async function legacyCert(tool: string, seconds: number) {
  const keys = await generateKey('rsa-2048');
  const csrPem = await buildCsrPem({ commonName: tool, groups: ['toolforge'] }, keys, 'rsa-2048');
  const api = admin().makeApiClient(k8s.CertificatesV1Api);
  const csr = await submitCsr(api, { name: `legacy-${tool}`, csrPem, expirationSeconds: seconds });
  const cert = await waitForCertificate(
    admin(),
    await approveCsr(api, csr, 'maintain-kubeusers', new Date()),
    60_000,
  );
  await api.deleteCertificateSigningRequest({ name: `legacy-${tool}` });
  return { certPem: cert, keyPem: await privateKeyPem(keys.privateKey) };
}

/** An expired one, which the signer would never issue: signed directly with the cluster CA's key. */
async function expiredCert(tool: string) {
  const env = testEnv();
  const caCert = new x509.X509Certificate(readFileSync(env.kube.caFile, 'utf8'));
  const caKey = await importPrivateKeyPem(readFileSync(env.kube.caKeyFile, 'utf8'), 'ecdsa-p256');
  const keys = await generateKey('ecdsa-p256');
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${tool}, O=toolforge`,
    issuer: caCert.subject,
    publicKey: keys.publicKey,
    signingKey: caKey,
    notBefore: new Date(Date.now() - 400 * DAY * 1000),
    notAfter: new Date(Date.now() - DAY * 1000),
    signingAlgorithm: signingAlgorithm('ecdsa-p256'),
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

let fresh: { certPem: string; keyPem: string };

beforeAll(async () => {
  s = await scenario('mg');
  fresh = await legacyCert('valid', 200 * DAY);
  await seedLegacy('valid', 58_001, fresh, new Date(Date.now() + 200 * DAY * 1000), 'maintain-kubeusers');
  await seedLegacy(
    'expired',
    58_002,
    await expiredCert('expired'),
    new Date(Date.now() - DAY * 1000),
    'maintain-kubeusers-expired',
  );
  await s.dir.addTool({ name: 'valid', uidNumber: 58_001 });
  await s.dir.addTool({ name: 'expired', uidNumber: 58_002 });
});

describe('migration from maintain-kubeusers', () => {
  let result: Awaited<ReturnType<Scenario['sync']>>;

  it('adopts a valid credential without reissuing it', async () => {
    result = await s.sync();
    expect(result.failures).toEqual([]);
    const state = await admin()
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedConfigMap({ namespace: 'kubeusers-mg', name: 'state-tool-valid' });
    expect(state.data).toMatchObject({
      status: 'active',
      serial: (await certInfo(fresh.certPem)).serial,
      legacyUser: 'valid',
    });
    expect(readFileSync(join(s.homesRoot, 'valid', '.toolskube', 'client.crt'), 'utf8')).toBe(fresh.certPem);
    // Its old kubeconfig keeps working, and keeps working once kubeusers' binding is the only one.
    await admin()
      .makeApiClient(k8s.RbacAuthorizationV1Api)
      .deleteNamespacedRoleBinding({ namespace: 'mg-valid', name: 'valid-tool-binding' });
    const r = await kubectl(kubeconfigOf(join(s.homesRoot, 'valid')), [
      'get',
      'configmaps',
      '-n',
      'mg-valid',
    ]);
    expect(r.stderr).toBe('');
  });

  it('renews a credential whose expiry has passed', async () => {
    expect(result.done).toContain('tool/expired: adopt the certificate in the home, or issue one');
    const state = await admin()
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedConfigMap({ namespace: 'kubeusers-mg', name: 'state-tool-expired' });
    expect(state.data?.certEpoch).toBe('1');
    const r = await kubectl(kubeconfigOf(join(s.homesRoot, 'expired')), [
      '--context',
      'test',
      'get',
      'configmaps',
    ]);
    expect(r.stderr).toBe('');
  });

  it('leaves the valid credential alone on the next sync', async () => {
    const next = await s.sync();
    expect(next.done).toEqual([]);
  });
});
