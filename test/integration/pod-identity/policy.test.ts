// The pod-identity policy against the real apiserver. Every workload is created with the tool's own
// kubeconfig, the one kubeusers wrote into its home; only the setup and the namespace edits that
// simulate an earlier release or an operator use the cluster admin's.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig } from '../../env/index.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

let s: Scenario;
const A = 52_101;
const B = 52_102;
/** The cluster admin: setup and operator actions only, never a tool's workload. */
const operator = () => adminKubeConfig().makeApiClient(k8s.CoreV1Api);
/** A tool's own kubeconfig, from its home. */
function toolKubeConfig(tool: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigOf(join(s.homesRoot, tool)));
  return kc;
}
const core = (tool: string) => toolKubeConfig(tool).makeApiClient(k8s.CoreV1Api);
const apps = (tool: string) => toolKubeConfig(tool).makeApiClient(k8s.AppsV1Api);

type Mod = (p: k8s.V1PodSpec) => void;

function podSpec(uid: number, ...mods: Mod[]): k8s.V1PodSpec {
  const spec: k8s.V1PodSpec = {
    securityContext: { runAsUser: uid, runAsGroup: uid, fsGroup: uid, runAsNonRoot: true },
    containers: [
      {
        name: 'app',
        image: 'docker-registry.tools.wmflabs.org/toolforge-python311:latest',
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        volumeMounts: [
          { name: 'home', mountPath: '/data/project/a' },
          { name: 'dumps', mountPath: '/public/dumps', readOnly: true },
        ],
      },
    ],
    volumes: [
      { name: 'home', hostPath: { path: '/data/project/a', type: 'Directory' } },
      { name: 'dumps', hostPath: { path: '/public/dumps/public', type: 'Directory' } },
    ],
  };
  for (const m of mods) m(spec);
  return spec;
}

const c0 = (p: k8s.V1PodSpec) => p.containers[0]!;
let n = 0;
type Outcome = { ok: boolean; message: string };
async function outcome(create: () => Promise<unknown>): Promise<Outcome> {
  try {
    await create();
    return { ok: true, message: '' };
  } catch (err) {
    const body = (err as { body?: string }).body ?? '';
    return { ok: false, message: (JSON.parse(body) as { message: string }).message };
  }
}
/** Tool `tool` creates a pod in its own namespace, with its own kubeconfig. */
const createPod = (tool: string, spec: k8s.V1PodSpec): Promise<Outcome> =>
  outcome(() =>
    core(tool).createNamespacedPod({
      namespace: `pi-${tool}`,
      body: { metadata: { name: `p${n++}` }, spec },
    }),
  );

beforeAll(async () => {
  s = await scenario('pi');
  await s.dir.addTool({ name: 'a', uidNumber: A });
  await s.dir.addTool({ name: 'b', uidNumber: B });
  expect((await s.sync()).failures).toEqual([]);
});

describe('the pod identity policy', () => {
  it('admits a pod that keeps every rule, and a Deployment whose template does', async () => {
    expect(await createPod('a', podSpec(A))).toEqual({ ok: true, message: '' });
    await apps('a').createNamespacedDeployment({
      namespace: 'pi-a',
      body: {
        metadata: { name: 'web' },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: podSpec(A) },
        },
      },
    });
  });

  const violations: [string, Mod, RegExp][] = [
    [
      'a wrong runAsUser',
      (p) => (p.securityContext!.runAsUser = 1000),
      /runAsUser must be 52101 \(the uid of tool 'a'\)/,
    ],
    [
      'a wrong runAsUser on a container',
      (p) => (c0(p).securityContext!.runAsUser = 0),
      /runAsUser must be 52101/,
    ],
    [
      'a wrong fsGroup',
      (p) => (p.securityContext!.fsGroup = 1),
      /fsGroup must be 52101 \(the gid of tool 'a'\)/,
    ],
    ['a missing securityContext', (p) => delete p.securityContext, /runAsUser must be 52101/],
    [
      'privileged',
      (p) => Object.assign(c0(p).securityContext!, { privileged: true, allowPrivilegeEscalation: true }),
      /privileged must not be true \(container app\)/,
    ],
    [
      'allowPrivilegeEscalation',
      (p) => (c0(p).securityContext!.allowPrivilegeEscalation = true),
      /allowPrivilegeEscalation must be false/,
    ],
    [
      'an added capability',
      (p) => (c0(p).securityContext!.capabilities!.add = ['NET_ADMIN']),
      /capabilities\.add must be empty/,
    ],
    [
      'no dropped capabilities',
      (p) => (c0(p).securityContext!.capabilities = {}),
      /capabilities\.drop must include ALL/,
    ],
    ['hostNetwork', (p) => (p.hostNetwork = true), /hostNetwork must be false/],
    ['hostPID', (p) => (p.hostPID = true), /hostPID must be false/],
    [
      'a hostPath outside the prefixes',
      (p) => (p.volumes![0]!.hostPath!.path = '/etc'),
      /hostPath volume \/etc is not allowed: host paths must be under \/data\/project,/,
    ],
    [
      'a writable mount of a read-only prefix',
      (p) => (c0(p).volumeMounts![1]!.readOnly = false),
      /under \/public\/dumps,\/etc\/wmcs-project must set readOnly: true/,
    ],
    [
      "tool B's uid",
      (p) => Object.assign(p.securityContext!, { runAsUser: B, runAsGroup: B, fsGroup: B }),
      /runAsUser must be 52101 \(the uid of tool 'a'\)/,
    ],
  ];
  it.each(violations)('denies %s, naming the field and the expected value', async (_, mod, message) => {
    const r = await createPod('a', podSpec(A, mod));
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/kubeusers-pod-identity/);
    expect(r.message).toMatch(message);
  });

  it('denies a Deployment whose template violates, at apply time', async () => {
    await expect(
      apps('a').createNamespacedDeployment({
        namespace: 'pi-a',
        body: {
          metadata: { name: 'bad' },
          spec: {
            selector: { matchLabels: { app: 'bad' } },
            template: {
              metadata: { labels: { app: 'bad' } },
              spec: podSpec(A, (p) => (p.hostNetwork = true)),
            },
          },
        },
      }),
    ).rejects.toMatchObject({
      code: 403,
      body: expect.stringMatching(/hostNetwork must be false/) as unknown,
    });
  });

  it('leaves namespaces that are not tool namespaces alone', async () => {
    // An operator's namespace and pod (no tool can create either): the binding must not select it.
    await operator().createNamespace({ body: { metadata: { name: 'pi-plain' } } });
    const r = await outcome(() =>
      operator().createNamespacedPod({
        namespace: 'pi-plain',
        body: { metadata: { name: 'plain' }, spec: podSpec(0, (p) => (p.hostNetwork = true)) },
      }),
    );
    expect(r).toEqual({ ok: true, message: '' });
  });

  it('denies every pod, clearly, in a namespace an earlier release labelled, until the next sync labels it', async () => {
    // As an earlier release left the namespace: no identity labels or annotations, an older hash.
    const esc = (key: string) => key.replace('/', '~1');
    await operator().patchNamespace({
      name: 'pi-b',
      body: [
        ...['kubeusers.io/uid', 'kubeusers.io/gid'].map((k) => ({
          op: 'remove',
          path: `/metadata/labels/${esc(k)}`,
        })),
        ...['kubeusers.io/allowed-host-paths', 'kubeusers.io/read-only-host-paths'].map((k) => ({
          op: 'remove',
          path: `/metadata/annotations/${esc(k)}`,
        })),
        {
          op: 'replace',
          path: `/metadata/annotations/${esc('kubeusers.io/spec-hash')}`,
          value: 'earlier-release',
        },
      ],
    });
    const denied = await createPod('b', podSpec(B));
    expect(denied.ok).toBe(false);
    expect(denied.message).toMatch(
      /kubeusers-pod-identity.*namespace pi-b lacks valid pod identity labels \(kubeusers\.io\/uid, kubeusers\.io\/gid\)/,
    );
    const result = await s.sync();
    expect(result.done).toContain('tool/b: apply Namespace pi-b');
    expect((await createPod('b', podSpec(B))).ok).toBe(true);
  });

  it('deletes the parameter ConfigMap an earlier release kept in each tool namespace', async () => {
    // What the earlier release applied (setup as the cluster admin stands for that release).
    await operator().createNamespacedConfigMap({
      namespace: 'pi-b',
      body: {
        metadata: {
          name: 'kubeusers-pod-identity',
          labels: {
            'app.kubernetes.io/managed-by': 'kubeusers',
            'kubeusers.io/instance': 'kubeusers-pi',
            'kubeusers.io/kind': 'tool',
            'kubeusers.io/account': 'b',
            'kubeusers.io/role': 'pod-identity',
          },
        },
        data: {
          tool: 'b',
          uid: String(B),
          gid: String(B),
          allowedHostPaths: '/data/project',
          readOnlyHostPaths: '',
        },
      },
    });
    const result = await s.sync();
    expect(result.done).toContain('tool/b: delete ConfigMap pi-b/kubeusers-pod-identity');
    const left = await operator().listNamespacedConfigMap({
      namespace: 'pi-b',
      labelSelector: 'kubeusers.io/role=pod-identity',
    });
    expect(left.items).toEqual([]);
  });

  it('is one policy and one binding without parameters; each tool namespace carries its ids', async () => {
    const adm = adminKubeConfig().makeApiClient(k8s.AdmissionregistrationV1Api);
    // kubeusers-guard (deploy/base) limits kubeusers' own ServiceAccount; it is not about pods.
    const podPolicy = (p: { metadata?: { name?: string } }): boolean =>
      p.metadata?.name?.startsWith('kubeusers-pod-identity') === true;
    const policies = (await adm.listValidatingAdmissionPolicy()).items.filter(podPolicy);
    const bindings = (await adm.listValidatingAdmissionPolicyBinding()).items.filter(podPolicy);
    expect(policies).toHaveLength(1);
    expect(policies[0]?.spec?.paramKind).toBeUndefined();
    expect(bindings).toHaveLength(1);
    expect(bindings[0]?.spec?.paramRef).toBeUndefined();
    for (const [tool, id] of [
      ['a', A],
      ['b', B],
    ] as const) {
      const ns = await operator().readNamespace({ name: `pi-${tool}` });
      expect(ns.metadata?.labels).toMatchObject({
        'kubeusers.io/uid': String(id),
        'kubeusers.io/gid': String(id),
      });
      expect(ns.metadata?.annotations).toMatchObject({
        'kubeusers.io/allowed-host-paths': '/data/project,/public/dumps,/etc/wmcs-project',
        'kubeusers.io/read-only-host-paths': '/public/dumps,/etc/wmcs-project',
      });
    }
  });
});

describe('with podIdentity.strictSupplementalGroups', () => {
  const C = 52_103;
  let strict: Scenario;
  beforeAll(async () => {
    strict = await scenario('ps', { podIdentity: { strictSupplementalGroups: true } });
    await strict.dir.addTool({ name: 'c', uidNumber: C });
    expect((await strict.sync()).failures).toEqual([]);
  });
  /** Tool c creates a pod with its own kubeconfig. */
  const createAsC = (spec: k8s.V1PodSpec): Promise<Outcome> => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigOf(join(strict.homesRoot, 'c')));
    return outcome(() =>
      kc.makeApiClient(k8s.CoreV1Api).createNamespacedPod({
        namespace: 'ps-c',
        body: { metadata: { name: `p${n++}` }, spec },
        dryRun: 'All',
      }),
    );
  };
  const denied = (m: RegExp): Outcome => ({
    ok: false,
    message: expect.stringMatching(m) as unknown as string,
  });
  const cases: [string, string | undefined, Outcome][] = [
    ['admits a pod that sets supplementalGroupsPolicy Strict', 'Strict', { ok: true, message: '' }],
    [
      "denies Merge (the image's /etc/group groups)",
      'Merge',
      denied(/kubeusers-pod-identity.*supplementalGroupsPolicy must be Strict in this namespace/),
    ],
    [
      'denies a pod that leaves it to the default (Merge)',
      undefined,
      denied(/kubeusers-pod-identity.*supplementalGroupsPolicy must be Strict/),
    ],
  ];
  it.each(cases)('%s', async (_, policy, expected) => {
    const spec = podSpec(C);
    if (policy) spec.securityContext!.supplementalGroupsPolicy = policy;
    expect(await createAsC(spec)).toEqual(expected);
  });
});
