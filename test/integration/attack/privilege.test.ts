// Attacker: someone who stole kubeusers' own ServiceAccount token (the deploy/ ServiceAccount
// kubeusers/kubeusers, with deploy/'s RBAC and admission guard). Everything they try below must be
// refused. Setup steps use the environment's cluster-admin credentials and say so on the line.
// Second attacker: an admin's own kubeusers-issued kubeconfig from their home.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments, stringify } from 'yaml';
import { buildCsrPem } from '../../../src/pki/csr.ts';
import { generateKey } from '../../../src/pki/keys.ts';
import { installClusterRoles } from '../../env/cluster-roles.ts';
import { kubectl, testEnv, type KubectlResult } from '../../env/index.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
/** The environment's cluster-admin kubeconfig: used for setup steps only. */
const setupKubeconfig = (): string => testEnv().kube.adminKubeconfig;
const setup = (args: string[]) => kubectl(setupKubeconfig(), args); // setup: cluster-admin credentials
const tag = `pv${Date.now().toString(36)}`;
const victimNs = `${tag}-victim`;
/** A second victim, for the attempts to take it over and delete it. */
const doomedNs = `${tag}-doomed`;
/** A tool namespace under deploy/'s prefix, as kubeusers makes them. */
const toolNs = `tool-${tag}`;
const scratch = mkdtempSync(join(testEnv().dir, 'privilege-'));
let stolen = '';
let s: Scenario;

function manifest(name: string, obj: unknown): string {
  const file = join(scratch, `${name}.yaml`);
  writeFileSync(file, stringify(obj));
  return file;
}

async function must(p: Promise<{ code: number; stderr: string }>): Promise<void> {
  const r = await p;
  if (r.code !== 0) throw new Error(r.stderr);
}

const ours = {
  'app.kubernetes.io/managed-by': 'kubeusers',
  'kubeusers.io/instance': 'kubeusers',
  'kubeusers.io/kind': 'admin',
  'kubeusers.io/account': 'evil',
  'kubeusers.io/role': 'binding',
};

beforeAll(async () => {
  const env = testEnv();
  // setup: cluster-admin installs deploy/'s namespace and RBAC if missing (the least-privilege test
  // may be changing the ClusterRole right now: re-applying it then would undo that test's edits).
  if ((await setup(['get', 'clusterrole', 'kubeusers'])).code !== 0)
    for (const f of ['namespace.yaml', 'rbac.yaml'])
      await must(setup(['apply', '--server-side', '-f', join(repo, 'deploy', 'base', f)]));
  await installClusterRoles(env); // setup: cluster-admin applies the bound roles and the guard
  // setup: cluster-admin mints the token the attacker stole (`kubectl create token`).
  const tr = await setup(['-n', 'kubeusers', 'create', 'token', 'kubeusers', '--duration=1h']);
  if (tr.code !== 0) throw new Error(tr.stderr);
  stolen = join(scratch, 'stolen.kubeconfig');
  writeFileSync(
    stolen,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server: env.kube.server, 'certificate-authority': env.kube.caFile } },
      ],
      users: [{ name: 'sa', user: { token: tr.stdout.trim() } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'sa' } }],
      'current-context': 'c',
    }),
    { mode: 0o600 },
  );
  // setup: cluster-admin applies kubeusers' configuration as `kubectl apply -k deploy/base` does.
  await must(setup(['apply', '--server-side', '-f', join(repo, 'deploy', 'base', 'config.yaml')]));
  // setup: cluster-admin creates the victims: a namespace with a ConfigMap, an unrelated binding, a policy.
  await must(setup(['create', 'namespace', victimNs]));
  await must(setup(['create', 'namespace', doomedNs]));
  // setup: cluster-admin makes a tool namespace as kubeusers would, labelled as kubeusers labels it.
  await must(
    setup([
      'apply',
      '--server-side',
      '-f',
      manifest('tool-namespace', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: toolNs,
          labels: {
            ...ours,
            'kubeusers.io/kind': 'tool',
            'kubeusers.io/account': tag,
            'kubeusers.io/role': 'namespace',
            tenancy: 'tool',
          },
        },
      }),
    ]),
  );
  await must(setup(['-n', victimNs, 'create', 'configmap', 'private', '--from-literal=password=hunter2']));
  await must(
    setup(['create', 'clusterrolebinding', `${tag}-victim`, '--clusterrole=view', '--user=someone']),
  );
  await must(
    setup([
      'apply',
      '--server-side',
      '-f',
      manifest('victim-policy', {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: `${tag}-victim-policy` },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['services'] },
            ],
          },
          validations: [{ expression: "object.metadata.name != 'forbidden'" }],
        },
      }),
    ]),
  );
  // setup: someone other than kubeusers asks for an admin identity, once under a name and labels
  // like kubeusers' own, once plainly.
  const keys = await generateKey('ecdsa-p256');
  const request = Buffer.from(
    await buildCsrPem({ commonName: 'evil', groups: ['kubeusers:admins'] }, keys, 'ecdsa-p256'),
  ).toString('base64');
  for (const [name, labels] of [
    [`${tag}-evil`, {}],
    [`kubeusers-admin-${tag}`, ours],
  ] as const)
    await must(
      setup([
        'create',
        '-f',
        manifest(name, {
          apiVersion: 'certificates.k8s.io/v1',
          kind: 'CertificateSigningRequest',
          metadata: { name, labels },
          spec: {
            signerName: 'kubernetes.io/kube-apiserver-client',
            request,
            usages: ['client auth'],
            expirationSeconds: 600,
          },
        }),
      ]),
    );
  // An admin, provisioned by kubeusers, for the impersonation case.
  s = await scenario(tag);
  await s.dir.addUser({ user: `${tag}adm`, uidNumber: 75_000 + Math.floor(Math.random() * 9000) });
  await s.dir.addToAdminGroup(`${tag}adm`);
  const r = await s.sync();
  expect(r.failures).toEqual([]);
});

afterAll(async () => {
  // setup: cluster-admin removes what the test made (and whatever an attack made on unchanged code).
  await setup(['delete', 'namespace', victimNs, doomedNs, toolNs, '--wait=false', '--ignore-not-found']);
  await setup([
    'delete',
    'validatingadmissionpolicy',
    `${tag}-victim-policy`,
    `${tag}-evil-policy`,
    '--ignore-not-found',
  ]);
  await setup(['delete', 'csr', `${tag}-evil`, `kubeusers-admin-${tag}`, '--ignore-not-found']);
  await setup([
    'delete',
    'clusterrolebinding',
    `${tag}-victim`,
    `${tag}-impersonate`,
    `${tag}-view`,
    `kubeusers-admin-${tag}-view`,
    `kubeusers-kubeusers-admin-${tag}-view`,
    '--ignore-not-found',
  ]);
});

/** kubectl's arguments, or a request of several steps. */
type Attack = [string, () => string[] | Promise<KubectlResult>];

/** The way kubeusers approves, open to the token: list the CSR, PUT its approval subresource. */
async function approve(name: string): Promise<KubectlResult> {
  const listed = await kubectl(stolen, [
    'get',
    'csr',
    '--field-selector',
    `metadata.name=${name}`,
    '-o',
    'json',
  ]);
  const csr = (JSON.parse(listed.stdout || '{"items":[]}') as { items: Record<string, unknown>[] }).items[0];
  if (listed.code !== 0 || !csr) return { ...listed, code: listed.code || 1 };
  const body = {
    ...csr,
    status: {
      conditions: [
        { type: 'Approved', status: 'True', reason: 'Evil', message: 'approved by a stolen token' },
      ],
    },
  };
  const file = join(scratch, `approve-${name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return kubectl(stolen, [
    'replace',
    '--raw',
    `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}/approval`,
    '-f',
    file,
  ]);
}

/** A policy as server-side apply sends it: no read first, create or change by name. */
function policy(name: string): string[] {
  return [
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    manifest(`policy-${name}`, {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: {
        failurePolicy: 'Ignore',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['services'] },
          ],
        },
        validations: [{ expression: 'true' }],
      },
    }),
  ];
}

function toolBinding(name: string, subject: { kind: string; name: string }): string[] {
  return [
    'apply',
    '--server-side',
    '--field-manager=kubeusers',
    '-f',
    manifest(`tool-binding-${name}`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: {
        name: `${tag}-${name}`,
        namespace: toolNs,
        labels: { ...ours, 'kubeusers.io/kind': 'tool', 'kubeusers.io/account': tag },
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubeusers-tool' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', ...subject }],
    }),
  ];
}

/** Every refusal's message, to show that each of the guard's rules refuses some attack. */
const refusals: string[] = [];

const attacks: Attack[] = [
  [
    'binds kubeusers-admin-impersonate to a user of its choice',
    () => [
      'create',
      'clusterrolebinding',
      `${tag}-impersonate`,
      '--clusterrole=kubeusers-admin-impersonate',
      '--user=evil',
    ],
  ],
  [
    'binds view to a user of its choice',
    () => ['create', 'clusterrolebinding', `${tag}-view`, '--clusterrole=view', '--user=evil'],
  ],
  [
    'binds view to a user under a kubeusers name with kubeusers labels',
    () => [
      'apply',
      '--server-side',
      '--field-manager=kubeusers',
      '-f',
      manifest('labelled-binding', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `kubeusers-kubeusers-admin-${tag}-view`, labels: ours },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }],
      }),
    ],
  ],
  [
    'binds kubeusers-tool to a user in a namespace it does not manage',
    () => ['-n', victimNs, 'create', 'rolebinding', 'evil', '--clusterrole=kubeusers-tool', '--user=evil'],
  ],
  [
    'binds kubeusers-tool to a user of its choice in a tool namespace, with kubeusers labels',
    () => toolBinding('user', { kind: 'User', name: 'evil' }),
  ],
  [
    'binds kubeusers-tool to every authenticated user in a tool namespace, with kubeusers labels',
    () => toolBinding('group', { kind: 'Group', name: 'system:authenticated' }),
  ],
  ['deletes a binding it did not make', () => ['delete', 'clusterrolebinding', `${tag}-victim`]],
  ['approves a CSR someone else made (CN=evil, O=kubeusers:admins)', () => approve(`${tag}-evil`)],
  [
    'approves a CSR someone else made under a kubeusers name and labels',
    () => approve(`kubeusers-admin-${tag}`),
  ],
  ['deletes a CSR someone else made', () => ['delete', 'csr', `${tag}-evil`]],
  [
    'labels a namespace as its own (to delete it next)',
    () => [
      'label',
      'namespace',
      doomedNs,
      'app.kubernetes.io/managed-by=kubeusers',
      'kubeusers.io/instance=kubeusers',
    ],
  ],
  ['deletes a namespace it does not manage', () => ['delete', 'namespace', doomedNs, '--wait=false']],
  [
    'reads a ConfigMap in a namespace it does not manage',
    () => ['-n', victimNs, 'get', 'configmap', 'private'],
  ],
  ['lists every ConfigMap', () => ['get', 'configmaps', '--all-namespaces']],
  [
    "rewrites kubeusers' own configuration",
    () => [
      '-n',
      'kubeusers',
      'patch',
      'configmap',
      'kubeusers-config',
      '--type=merge',
      '-p',
      '{"data":{"kubeusers.yaml":"rbac: { extraGroups: [evil] }"}}',
    ],
  ],
  [
    'writes a ConfigMap in a namespace it does not manage',
    () => ['-n', victimNs, 'create', 'configmap', 'evil'],
  ],
  [
    "writes a ConfigMap under the pod-identity parameters' name in a namespace it does not manage",
    () => [
      'apply',
      '--server-side',
      '--field-manager=kubeusers',
      '-f',
      manifest('params', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kubeusers-pod-identity', namespace: victimNs, labels: ours },
        data: { uid: '0' },
      }),
    ],
  ],
  [
    'writes an Event in a namespace it does not manage',
    () => [
      'create',
      '-f',
      manifest('event', {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${tag}.evil`, namespace: victimNs },
        involvedObject: { kind: 'ConfigMap', name: 'private', namespace: victimNs },
        reason: 'Evil',
        message: 'planted',
      }),
    ],
  ],
  [
    'puts a zero quota on a namespace it does not manage',
    () => ['-n', victimNs, 'create', 'quota', 'evil', '--hard=pods=0'],
  ],
  [
    'takes a Lease in another namespace',
    () => [
      'create',
      '-f',
      manifest('lease', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'evil', namespace: victimNs },
        spec: { holderIdentity: 'evil' },
      }),
    ],
  ],
  ['changes another ValidatingAdmissionPolicy', () => policy(`${tag}-victim-policy`)],
  ['creates a ValidatingAdmissionPolicy of its own', () => policy(`${tag}-evil-policy`)],
  ['changes (or, missing, creates) the guard policy', () => policy('kubeusers-guard')],
  ['deletes the guard policy', () => ['delete', 'validatingadmissionpolicy', 'kubeusers-guard']],
  ['deletes the guard binding', () => ['delete', 'validatingadmissionpolicybinding', 'kubeusers-guard']],
];

describe("kubeusers' stolen ServiceAccount token", () => {
  it.each(attacks)('%s: refused', async (_, args) => {
    const attempt = args();
    const r = Array.isArray(attempt) ? await kubectl(stolen, attempt) : await attempt;
    refusals.push(r.stderr.replace(/\s+/g, ' '));
    // A rule that fails to evaluate refuses too (failurePolicy: Fail), but proves nothing.
    expect(r.stderr).not.toMatch(/resulted in error/);
    expect({ code: r.code === 0 ? 0 : 'refused', stderr: r.stderr.trim().split('\n')[0] }).toEqual({
      code: 'refused',
      stderr: expect.stringMatching(/forbidden|denied/i),
    });
  });

  it('left the CSRs unapproved and the victims in place', async () => {
    const csrs = await setup([
      'get',
      'csr',
      `${tag}-evil`,
      `kubeusers-admin-${tag}`,
      '-o',
      'jsonpath={.items[*].status.conditions}',
    ]);
    expect(csrs.stdout).not.toMatch(/Approved/);
    for (const ns of [victimNs, doomedNs])
      expect((await setup(['get', 'namespace', ns, '-o', 'jsonpath={.status.phase}'])).stdout).toBe('Active');
    expect((await setup(['get', 'clusterrolebinding', `${tag}-victim`])).code).toBe(0);
  });
});

describe('the guard (deploy/base/kubeusers-guard.yaml)', () => {
  it('has no rule to spare: each refuses one of the attacks above', () => {
    const guard = parseAllDocuments(
      readFileSync(join(repo, 'deploy', 'base', 'kubeusers-guard.yaml'), 'utf8'),
    )[0]!.toJS() as { spec: { validations: { message: string }[] } };
    const unused = guard.spec.validations
      .map((v) => v.message.replace(/\s+/g, ' ').trim())
      .filter((m) => !refusals.some((r) => r.includes(m)));
    expect(unused).toEqual([]);
  });
});

describe("an admin's own kubeusers credential", () => {
  const adminOwnKubeconfig = () => kubeconfigOf(join(s.adminHomesRoot, `${tag}adm`));
  it.each([
    ['impersonates a ServiceAccount', ['auth', 'can-i', 'impersonate', 'serviceaccounts']],
    [
      'impersonates a ServiceAccount of the control plane',
      ['auth', 'can-i', 'impersonate', 'serviceaccounts/namespace-controller', '-n', 'kube-system'],
    ],
  ])('%s: refused', async (_, args) => {
    const r = await kubectl(adminOwnKubeconfig(), args);
    expect(r.stdout.trim()).toBe('no');
  });
});

// Not defended, and said so in SECURITY.md: with `approve` on the client signer, the token can
// create and approve a CSR of its own for any subject but system:masters (the API server's
// CertificateSubjectRestriction): no admission policy can read a CSR's subject. An admin may
// impersonate any user and group (acting as a tool needs its current epoch group, whose name
// no RBAC rule can predict): an admin credential is cluster-admin-equivalent.
