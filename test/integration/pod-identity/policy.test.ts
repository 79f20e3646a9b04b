import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig } from '../../env/index.ts';
import { scenario, type Scenario } from '../support.ts';

let s: Scenario;
const A = 52_101;
const B = 52_102;
const core = () => adminKubeConfig().makeApiClient(k8s.CoreV1Api);
const apps = () => adminKubeConfig().makeApiClient(k8s.AppsV1Api);

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
async function createPod(ns: string, spec: k8s.V1PodSpec): Promise<{ ok: boolean; message: string }> {
  try {
    await core().createNamespacedPod({ namespace: ns, body: { metadata: { name: `p${n++}` }, spec } });
    return { ok: true, message: '' };
  } catch (err) {
    const body = (err as { body?: string }).body ?? '';
    return { ok: false, message: (JSON.parse(body) as { message: string }).message };
  }
}

beforeAll(async () => {
  s = await scenario('pi');
  await s.dir.addTool({ name: 'a', uidNumber: A });
  await s.dir.addTool({ name: 'b', uidNumber: B });
  expect((await s.sync()).failures).toEqual([]);
});

describe('the pod identity policy', () => {
  it('admits a pod that keeps every rule, and a Deployment whose template does', async () => {
    expect(await createPod('pi-a', podSpec(A))).toEqual({ ok: true, message: '' });
    await apps().createNamespacedDeployment({
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
    const r = await createPod('pi-a', podSpec(A, mod));
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/kubeusers-pod-identity/);
    expect(r.message).toMatch(message);
  });

  it('denies a Deployment whose template violates, at apply time', async () => {
    await expect(
      apps().createNamespacedDeployment({
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
    await core().createNamespace({ body: { metadata: { name: 'pi-plain' } } });
    expect(
      (
        await createPod(
          'pi-plain',
          podSpec(0, (p) => (p.hostNetwork = true)),
        )
      ).ok,
    ).toBe(true);
  });

  it('denies clearly when the parameter object is missing, and the next sync restores it', async () => {
    await core().deleteNamespacedConfigMap({ namespace: 'pi-b', name: 'kubeusers-pod-identity' });
    const denied = await createPod('pi-b', podSpec(B));
    expect(denied.ok).toBe(false);
    expect(denied.message).toMatch(/kubeusers-pod-identity/);
    expect(denied.message).toMatch(/param|not found/i);
    const result = await s.sync();
    expect(result.done).toContain('tool/b: apply ConfigMap pi-b/kubeusers-pod-identity');
    expect((await createPod('pi-b', podSpec(B))).ok).toBe(true);
  });

  it('puts an edited parameter object right on the next sync', async () => {
    await core().patchNamespacedConfigMap({
      namespace: 'pi-b',
      name: 'kubeusers-pod-identity',
      body: [{ op: 'replace', path: '/data/uid', value: '0' }],
    });
    await s.sync();
    const cm = await core().readNamespacedConfigMap({ namespace: 'pi-b', name: 'kubeusers-pod-identity' });
    expect(cm.data?.uid).toBe(String(B));
  });

  it('is one policy and one binding, with one small parameter object per tool namespace', async () => {
    const adm = adminKubeConfig().makeApiClient(k8s.AdmissionregistrationV1Api);
    const policies = (await adm.listValidatingAdmissionPolicy()).items.filter((p) =>
      p.metadata?.name?.startsWith('kubeusers'),
    );
    const bindings = (await adm.listValidatingAdmissionPolicyBinding()).items.filter((p) =>
      p.metadata?.name?.startsWith('kubeusers'),
    );
    expect(policies).toHaveLength(1);
    expect(bindings).toHaveLength(1);
    const params = await core().listConfigMapForAllNamespaces({
      labelSelector: 'kubeusers.io/instance=kubeusers-pi,kubeusers.io/role=pod-identity',
    });
    expect(params.items.map((c) => c.metadata?.namespace).sort()).toEqual(['pi-a', 'pi-b']);
    expect(JSON.stringify(params.items[0]?.data).length).toBeLessThan(200);
  });
});
