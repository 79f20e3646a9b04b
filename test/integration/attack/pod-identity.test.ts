// Pod identity attacked by a tool, with nothing but the kubeconfig kubeusers wrote into its home.
// Workloads are created with a server-side dry run: the apiserver runs admission in full (the
// ValidatingAdmissionPolicy included) and keeps nothing, so the cases do not depend on each other.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { kubectl, type KubectlResult } from '../../env/index.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

const A = 52_301;
const B = 52_302;
const NS = 'apod-a';
let s: Scenario;
let tmp: string;
/** Tool a's own kubeconfig, as kubeusers wrote it into a's home. */
let toolA: string;

type Mod = (p: k8s.V1PodSpec) => void;

/** A pod spec that keeps every rule: a's ids, its home read-write, the dumps read-only. */
function podSpec(...mods: Mod[]): k8s.V1PodSpec {
  const spec: k8s.V1PodSpec = {
    securityContext: { runAsUser: A, runAsGroup: A, fsGroup: A, runAsNonRoot: true },
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

const c0 = (p: k8s.V1PodSpec): k8s.V1Container => p.containers[0]!;
const psc = (p: k8s.V1PodSpec): k8s.V1PodSecurityContext => (p.securityContext ??= {});
const csc = (p: k8s.V1PodSpec): k8s.V1SecurityContext => (c0(p).securityContext ??= {});

type Kind = 'Pod' | 'Deployment' | 'StatefulSet' | 'Job' | 'CronJob';
type Annotations = Record<string, string>;

/** The workload of that kind around a pod spec (and pod annotations). */
function workload(kind: Kind, spec: k8s.V1PodSpec, annotations: Annotations = {}): object {
  const metadata = { name: `w-${kind.toLowerCase()}` };
  const labels = { app: 'w' };
  const template = { metadata: { labels, annotations }, spec };
  const batch = { template: { ...template, spec: { ...spec, restartPolicy: 'Never' } } };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata: { ...metadata, annotations }, spec };
    case 'Deployment':
      return { apiVersion: 'apps/v1', kind, metadata, spec: { selector: { matchLabels: labels }, template } };
    case 'StatefulSet':
      return {
        apiVersion: 'apps/v1',
        kind,
        metadata,
        spec: { serviceName: 'w', selector: { matchLabels: labels }, template },
      };
    case 'Job':
      return { apiVersion: 'batch/v1', kind, metadata, spec: batch };
    case 'CronJob':
      return {
        apiVersion: 'batch/v1',
        kind,
        metadata,
        spec: { schedule: '*/5 * * * *', jobTemplate: { spec: batch } },
      };
  }
}

let files = 0;
/** `kubectl create --dry-run=server` as tool a, in a's namespace. */
async function createAsA(manifest: object): Promise<KubectlResult> {
  const file = join(tmp, `m${files++}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  return kubectl(toolA, ['-n', NS, 'create', '--dry-run=server', '-f', file]);
}

beforeAll(async () => {
  s = await scenario('apod');
  await s.dir.addTool({ name: 'a', uidNumber: A });
  await s.dir.addTool({ name: 'b', uidNumber: B });
  expect((await s.sync()).failures).toEqual([]); // setup: the scenario's kubeusers runs as cluster admin
  tmp = mkdtempSync(join(s.env.dir, 'apod-'));
  toolA = kubeconfigOf(join(s.homesRoot, 'a'));
});

describe('the pod-identity policy refuses what would let a tool act as someone else or leave its box', () => {
  const apparmor = 'container.apparmor.security.beta.kubernetes.io/app';
  const refused: [string, Kind, Mod, Annotations, RegExp][] = [
    [
      "supplementalGroups with b's gid",
      'Pod',
      (p) => (psc(p).supplementalGroups = [B]),
      {},
      /supplementalGroups/,
    ],
    [
      "supplementalGroups with a's and b's gid",
      'Pod',
      (p) => (psc(p).supplementalGroups = [A, B]),
      {},
      /supplementalGroups/,
    ],
    [
      "supplementalGroups with b's gid in a Deployment",
      'Deployment',
      (p) => (psc(p).supplementalGroups = [B]),
      {},
      /supplementalGroups/,
    ],
    ['a hostPort', 'Pod', (p) => (c0(p).ports = [{ containerPort: 8000, hostPort: 8000 }]), {}, /hostPort/],
    [
      'a hostPort in a CronJob',
      'CronJob',
      (p) => (c0(p).ports = [{ containerPort: 8000, hostPort: 8000 }]),
      {},
      /hostPort/,
    ],
    [
      'seccomp Unconfined on the pod',
      'Pod',
      (p) => (psc(p).seccompProfile = { type: 'Unconfined' }),
      {},
      /seccompProfile/,
    ],
    [
      'seccomp Unconfined on a container',
      'Pod',
      (p) => (csc(p).seccompProfile = { type: 'Unconfined' }),
      {},
      /seccompProfile/,
    ],
    [
      'seccomp Unconfined on a container of a StatefulSet',
      'StatefulSet',
      (p) => (csc(p).seccompProfile = { type: 'Unconfined' }),
      {},
      /seccompProfile/,
    ],
    [
      'AppArmor Unconfined on the pod',
      'Pod',
      (p) => (psc(p).appArmorProfile = { type: 'Unconfined' }),
      {},
      /appArmorProfile/,
    ],
    [
      'AppArmor Unconfined on a container',
      'Pod',
      (p) => (csc(p).appArmorProfile = { type: 'Unconfined' }),
      {},
      /appArmorProfile/,
    ],
    ['the AppArmor annotation unconfined', 'Pod', () => undefined, { [apparmor]: 'unconfined' }, /apparmor/i],
    [
      'the AppArmor annotation unconfined on a Deployment template',
      'Deployment',
      () => undefined,
      { [apparmor]: 'unconfined' },
      /apparmor/i,
    ],
    [
      'seLinuxOptions on the pod',
      'Pod',
      (p) => (psc(p).seLinuxOptions = { type: 'spc_t' }),
      {},
      /seLinuxOptions/,
    ],
    [
      'seLinuxOptions on a container',
      'Pod',
      (p) => (csc(p).seLinuxOptions = { user: 'system_u', role: 'system_r' }),
      {},
      /seLinuxOptions/,
    ],
    [
      'procMount Unmasked',
      'Pod',
      (p) => {
        p.hostUsers = false;
        csc(p).procMount = 'Unmasked';
      },
      {},
      /procMount/,
    ],
    [
      'an unsafe sysctl',
      'Pod',
      (p) => (psc(p).sysctls = [{ name: 'kernel.msgmax', value: '65536' }]),
      {},
      /sysctl/,
    ],
    [
      'an unsafe sysctl in a Job',
      'Job',
      (p) => (psc(p).sysctls = [{ name: 'net.core.somaxconn', value: '1024' }]),
      {},
      /sysctl/,
    ],
  ];
  it.each(refused)('denies %s (%s)', async (_, kind, mod, annotations, message) => {
    const r = await createAsA(workload(kind, podSpec(mod), annotations));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/kubeusers-pod-identity/);
    expect(r.stderr).toMatch(message);
  });
});

describe('an admitted workload cannot be updated into what is refused', () => {
  it("denies an update of a Deployment's template to b's gid", async () => {
    const file = join(tmp, 'deployment.json');
    writeFileSync(file, JSON.stringify(workload('Deployment', podSpec())));
    expect((await kubectl(toolA, ['-n', NS, 'create', '-f', file])).code).toBe(0);
    const patch = { spec: { template: { spec: { securityContext: { supplementalGroups: [B] } } } } };
    const r = await kubectl(toolA, [
      '-n',
      NS,
      'patch',
      'deployment',
      'w-deployment',
      '--type=merge',
      '-p',
      JSON.stringify(patch),
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/kubeusers-pod-identity.*supplementalGroups may only contain 52301/);
    expect((await kubectl(toolA, ['-n', NS, 'delete', 'deployment', 'w-deployment'])).code).toBe(0);
  });
});

describe("ordinary workloads, created with the tool's own kubeconfig, are admitted", () => {
  const kinds: Kind[] = ['Pod', 'Deployment', 'StatefulSet', 'Job', 'CronJob'];
  it.each(kinds)("a %s with the tool's ids, its home and the dumps read-only", async (kind) => {
    const r = await createAsA(workload(kind, podSpec()));
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/\(server dry run\)/) as unknown });
  });

  const allowed: [string, Mod, Annotations][] = [
    ["supplementalGroups with the tool's own gid", (p) => (psc(p).supplementalGroups = [A]), {}],
    ['empty supplementalGroups', (p) => (psc(p).supplementalGroups = []), {}],
    ['seccomp RuntimeDefault', (p) => (psc(p).seccompProfile = { type: 'RuntimeDefault' }), {}],
    ['AppArmor RuntimeDefault', (p) => (csc(p).appArmorProfile = { type: 'RuntimeDefault' }), {}],
    [
      'the AppArmor annotation runtime/default',
      () => undefined,
      { 'container.apparmor.security.beta.kubernetes.io/app': 'runtime/default' },
    ],
    [
      'a safe sysctl',
      (p) => (psc(p).sysctls = [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]),
      {},
    ],
    ['a user namespace (hostUsers: false)', (p) => (p.hostUsers = false), {}],
    ['procMount Default', (p) => (csc(p).procMount = 'Default'), {}],
    ['a container port without hostPort', (p) => (c0(p).ports = [{ containerPort: 8000 }]), {}],
  ];
  it.each(allowed)('a Pod with %s', async (_, mod, annotations) => {
    const r = await createAsA(workload('Pod', podSpec(mod), annotations));
    // The AppArmor annotation draws kubectl's deprecation warning on stderr, nothing else may.
    expect(r.stderr.replace(/^Warning: .*deprecated.*\n/m, '')).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/\(server dry run\)/) as unknown });
  });
});

// Last: on the code this test was written against, the write below changes the identity for good.
describe('a tool cannot change what the pod-identity policy trusts about it', () => {
  const attempts: [string, string[]][] = [
    ["label its namespace with b's uid", ['label', 'namespace', NS, `kubeusers.io/uid=${B}`, '--overwrite']],
    ["label its namespace with b's gid", ['label', 'namespace', NS, `kubeusers.io/gid=${B}`, '--overwrite']],
    [
      'annotate its namespace to allow every host path',
      ['annotate', 'namespace', NS, 'kubeusers.io/allowed-host-paths=/', '--overwrite'],
    ],
    [
      'patch its namespace as field manager kubeusers',
      [
        'patch',
        'namespace',
        NS,
        '--field-manager=kubeusers',
        '--type=merge',
        '-p',
        JSON.stringify({
          metadata: { labels: { 'kubeusers.io/uid': String(B), 'kubeusers.io/gid': String(B) } },
        }),
      ],
    ],
    ['delete the policy binding', ['delete', 'validatingadmissionpolicybinding', 'kubeusers-pod-identity']],
  ];
  it.each(attempts)('%s: forbidden', async (_, args) => {
    const r = await kubectl(toolA, args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden/i);
  });

  it("writes the old parameter ConfigMap (b's ids, host path /) as field manager kubeusers, and still cannot run as b or mount /", async () => {
    // Issue 13 point 1: `kubectl patch cm kubeusers-pod-identity --field-manager=kubeusers`. As a
    // server-side apply the same write succeeds whether kubeusers still keeps that object or not.
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kubeusers-pod-identity', namespace: NS },
      data: { tool: 'a', uid: String(B), gid: String(B), allowedHostPaths: '/', readOnlyHostPaths: '' },
    };
    const file = join(tmp, 'params.json');
    writeFileSync(file, JSON.stringify(cm));
    const write = await kubectl(toolA, [
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=kubeusers',
      '-f',
      file,
    ]);
    expect(write.stderr).toBe('');
    const mountRoot: Mod = (p) => {
      p.volumes = [{ name: 'host', hostPath: { path: '/', type: 'Directory' } }];
      c0(p).volumeMounts = [{ name: 'host', mountPath: '/host' }];
    };
    const asB = await createAsA(
      workload(
        'Pod',
        podSpec(mountRoot, (p) => Object.assign(psc(p), { runAsUser: B, runAsGroup: B, fsGroup: B })),
      ),
    );
    expect(asB.code).not.toBe(0);
    expect(asB.stderr).toMatch(/kubeusers-pod-identity.*runAsUser must be 52301/);
    const root = await createAsA(workload('Pod', podSpec(mountRoot)));
    expect(root.code).not.toBe(0);
    expect(root.stderr).toMatch(/kubeusers-pod-identity.*hostPath volume \/ is not allowed/);
  });
});
