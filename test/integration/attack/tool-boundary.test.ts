// The attacker is tool `mallory`, with nothing but the kubeconfig kubeusers wrote into its own home.
// Every request below is one a tool might try in order to reach tool `victim` or to raise its own
// rights; each must be refused by the apiserver, and the victim must stay untouched.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl } from '../../env/index.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

let s: Scenario;
const mallory = (): string => kubeconfigOf(join(s.homesRoot, 'mallory'));
const victimNs = (): string => `${s.settings.kubernetes.namespacePrefix}victim`;
const ownNs = (): string => `${s.settings.kubernetes.namespacePrefix}mallory`;

beforeAll(async () => {
  s = await scenario('tb');
  await s.dir.addTool({ name: 'mallory', uidNumber: 53_001 });
  await s.dir.addTool({ name: 'victim', uidNumber: 53_002 });
  const first = await s.sync();
  expect(first.failures).toEqual([]);
});

const csr = (name: string): string =>
  JSON.stringify({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: {
      // Any syntactically valid request: the create itself must be refused.
      request: Buffer.from(
        '-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n',
      ).toString('base64'),
      signerName: 'kubernetes.io/kube-apiserver-client',
      usages: ['client auth'],
    },
  });

describe('a tool with its own kubeconfig', () => {
  it('works in its own namespace (the baseline the refusals are measured against)', async () => {
    const r = await kubectl(mallory(), ['get', 'configmaps']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  const refused: [string, () => string[]][] = [
    ["reads the other tool's secrets", () => ['get', 'secrets', '-n', victimNs()]],
    ["reads the other tool's ConfigMaps", () => ['get', 'configmaps', '-n', victimNs()]],
    [
      "creates a pod in the other tool's namespace",
      () => ['run', 'x', '--image=busybox', '-n', victimNs(), '--dry-run=server'],
    ],
    ['lists namespaces', () => ['get', 'namespaces']],
    [
      'relabels its own namespace (where pod identity is kept)',
      () => ['label', 'namespace', ownNs(), '--overwrite', 'kubeusers.io/uid=53002', '--dry-run=server'],
    ],
    ['deletes its own namespace', () => ['delete', 'namespace', ownNs(), '--dry-run=server']],
    [
      'binds itself a stronger role',
      () => ['create', 'rolebinding', 'x', '--clusterrole=admin', '--user=me', '--dry-run=server'],
    ],
    [
      'raises its quota',
      () => ['patch', 'resourcequota', 'kubeusers', '-p', '{"spec":{"hard":{"pods":"1000"}}}'],
    ],
    ['removes its limits', () => ['delete', 'limitrange', 'kubeusers', '--dry-run=server']],
    ['reads kubeusers state and ledger', () => ['get', 'configmaps', '-n', s.settings.kubernetes.namespace]],
    ['lists certificate requests', () => ['get', 'certificatesigningrequests']],
    ['impersonates the other tool', () => ['get', 'configmaps', '-n', victimNs(), '--as=tb.victim']],
    ['impersonates a group', () => ['get', 'configmaps', '--as=tb.mallory', '--as-group=system:masters']],
    ['reads nodes', () => ['get', 'nodes']],
    ['creates ServiceAccounts', () => ['create', 'serviceaccount', 'x', '--dry-run=server']],
    ['asks for a token of a ServiceAccount', () => ['create', 'token', 'default', '-n', victimNs()]],
    [
      'adds an ephemeral container (bypassing admission of pods)',
      () => ['auth', 'can-i', 'update', 'pods', '--subresource=ephemeralcontainers'],
    ],
    ['reads admission policies', () => ['get', 'validatingadmissionpolicies']],
  ];
  it.each(refused)('is refused when it %s', async (_, args) => {
    const r = await kubectl(mallory(), args());
    expect(r.code).not.toBe(0);
    // `auth can-i` answers "no" with exit 1; everything else is Forbidden by the apiserver.
    expect(`${r.stdout}${r.stderr}`).toMatch(/forbidden|^no\b/im);
  });

  it('cannot create a certificate request, so it cannot ask the signer for another identity', async () => {
    const { execFile } = await import('node:child_process');
    const out = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile(
        s.env.kube.kubectl,
        ['--kubeconfig', mallory(), 'create', '-f', '-', '--dry-run=server'],
        (err, _stdout, stderr) => resolve({ code: err ? 1 : 0, stderr }),
      );
      child.stdin?.end(csr('tb-mallory-as-victim'));
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/forbidden/i);
  });

  it('leaves the other tool working', async () => {
    const r = await kubectl(kubeconfigOf(join(s.homesRoot, 'victim')), ['get', 'configmaps']);
    expect(r.code).toBe(0);
  });
});
