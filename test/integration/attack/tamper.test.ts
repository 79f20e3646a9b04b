// Tampering with the objects kubeusers owns, by a writer that hides behind kubeusers' own field manager
// name and keeps its spec-hash annotation. The tamperer is another cluster writer (a cluster admin, or
// another controller): tools cannot write these objects (their ClusterRole has no rights on them) —
// see the pod-identity attack for what tools can write. So every tampering step below uses the setup
// kubeconfig, and says so.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { kubectl, testEnv } from '../../env/index.ts';
import { scenario, type Scenario } from '../support.ts';
import { adminBindingName } from '../../../src/model/names.ts';

let s: Scenario;
const NS = 'tm-a';
const ADMIN = 'tamperadm';
// Scenario `tm` runs the installation `kubeusers-tm` (its own namespace).
const ADMIN_BINDING = adminBindingName('kubeusers-tm', ADMIN, 'view');
const files = mkdtempSync(join(tmpdir(), 'kubeusers-tamper-'));

/** The cluster admin's kubeconfig: the tamperer here is another cluster writer (setup credentials). */
const setupKubeconfig = (): string => testEnv().kube.adminKubeconfig;
/** kubectl as the tamperer: the setup kubeconfig (another cluster writer), as field manager `kubeusers`. */
async function tamperWith(...args: string[]): Promise<void> {
  const r = await kubectl(setupKubeconfig(), [...args, '--field-manager=kubeusers']);
  if (r.code !== 0) throw new Error(`kubectl ${args[0]} failed: ${r.stderr}`);
}

let n = 0;
function manifest(obj: unknown): string {
  const file = join(files, `m${n++}.json`);
  writeFileSync(file, JSON.stringify(obj));
  return file;
}

interface Ref {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

type Live = k8s.KubernetesObject & Record<string, unknown>;

/** Reads for the assertions, as plain JSON, with the setup credentials (a reader, not the attacker). */
async function read(ref: Ref): Promise<Live> {
  const kind = ref.kind.toLowerCase();
  const r = await kubectl(setupKubeconfig(), [
    'get',
    kind,
    ref.name,
    ...(ref.namespace ? ['-n', ref.namespace] : []),
    '-o',
    'json',
  ]);
  if (r.code !== 0) throw new Error(`kubectl get ${kind} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Live;
}

/** Our labels and annotations and the content, without what the server keeps for itself. */
function copyOf(o: Live, content: string[]): Record<string, unknown> {
  const md = o.metadata ?? {};
  const meta = {
    name: md.name,
    ...(md.namespace ? { namespace: md.namespace } : {}),
    labels: md.labels,
    annotations: md.annotations,
  };
  // A deep copy: the tampering changes it, never the object it came from.
  return structuredClone({
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: meta,
    ...Object.fromEntries(content.map((k) => [k, o[k]])),
  });
}

/** What the assertion compares: the content kubeusers owns, and its labels. */
function owned(o: Live, content: string[]): unknown {
  const c = copyOf(o, content);
  const labels = { ...((c.metadata as { labels?: Record<string, string> }).labels ?? {}) };
  return { labels, ...Object.fromEntries(content.map((k) => [k, c[k]])) };
}

async function reverted(kind: string): Promise<number> {
  const metric = await s.app.metrics.registry.getSingleMetric('kubeusers_tampering_reverted_total')?.get();
  return metric?.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

async function eventsAbout(ref: Ref, namespace: string): Promise<k8s.CoreV1Event[]> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(setupKubeconfig());
  const events = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace });
  return events.items.filter(
    (e) =>
      e.reason === 'TamperingReverted' &&
      e.involvedObject.kind === ref.kind &&
      e.involvedObject.name === ref.name,
  );
}

const RBAC = 'rbac.authorization.k8s.io';
const roleBinding: Ref = {
  apiVersion: `${RBAC}/v1`,
  kind: 'RoleBinding',
  name: 'kubeusers-tool',
  namespace: NS,
};
const quota: Ref = { apiVersion: 'v1', kind: 'ResourceQuota', name: 'kubeusers', namespace: NS };
const limits: Ref = { apiVersion: 'v1', kind: 'LimitRange', name: 'kubeusers', namespace: NS };
const adminBinding: Ref = { apiVersion: `${RBAC}/v1`, kind: 'ClusterRoleBinding', name: ADMIN_BINDING };
const namespace: Ref = { apiVersion: 'v1', kind: 'Namespace', name: NS };

interface Case {
  name: string;
  ref: Ref;
  /** The fields kubeusers owns, compared before and after. */
  content: string[];
  tamper(live: Live): Promise<void>;
}

const cases: Case[] = [
  {
    name: "a subject added to a tool's RoleBinding (JSON patch)",
    ref: roleBinding,
    content: ['roleRef', 'subjects'],
    tamper: () =>
      tamperWith(
        'patch',
        'rolebinding',
        'kubeusers-tool',
        '-n',
        NS,
        '--type=json',
        '-p',
        JSON.stringify([
          { op: 'add', path: '/subjects/-', value: { apiGroup: RBAC, kind: 'User', name: 'tm.b' } },
        ]),
      ),
  },
  {
    name: "a tool's ResourceQuota raised (server-side apply of the whole object)",
    ref: quota,
    content: ['spec'],
    tamper: (live) => {
      const c = copyOf(live, ['spec']) as { spec: { hard: Record<string, string> } };
      c.spec.hard = { ...c.spec.hard, pods: '1000', 'limits.memory': '1Ti' };
      return tamperWith('apply', '--server-side', '--force-conflicts', '-f', manifest(c));
    },
  },
  {
    name: "a new resource added to a tool's ResourceQuota (merge patch)",
    ref: quota,
    content: ['spec'],
    tamper: () =>
      tamperWith(
        'patch',
        'resourcequota',
        'kubeusers',
        '-n',
        NS,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { hard: { 'count/secrets': '1' } } }),
      ),
  },
  {
    name: "a tool's LimitRange maximum raised (server-side apply of the whole object)",
    ref: limits,
    content: ['spec'],
    tamper: (live) => {
      const c = copyOf(live, ['spec']) as { spec: { limits: { max?: Record<string, string> }[] } };
      c.spec.limits = c.spec.limits.map((l) => ({ ...l, max: { ...l.max, memory: '64Gi' } }));
      return tamperWith('apply', '--server-side', '--force-conflicts', '-f', manifest(c));
    },
  },
  {
    name: "the tenancy label removed from a tool's namespace (out of the pod-identity policy)",
    ref: namespace,
    content: [],
    tamper: () => tamperWith('label', 'namespace', NS, 'tenancy-'),
  },
  {
    name: "a subject added to an admin's ClusterRoleBinding (merge patch)",
    ref: adminBinding,
    content: ['roleRef', 'subjects'],
    tamper: (live) =>
      tamperWith(
        'patch',
        'clusterrolebinding',
        ADMIN_BINDING,
        '--type=merge',
        '-p',
        JSON.stringify({
          subjects: [
            ...(live.subjects as unknown[]),
            { apiGroup: RBAC, kind: 'Group', name: 'system:authenticated' },
          ],
        }),
      ),
  },
  {
    name: "an admin's ClusterRoleBinding recreated for cluster-admin, with our labels and the old annotation",
    ref: adminBinding,
    content: ['roleRef', 'subjects'],
    tamper: async (live) => {
      // roleRef is immutable: the tamperer deletes the binding and creates it again.
      const c = copyOf(live, ['subjects']);
      c.roleRef = { apiGroup: RBAC, kind: 'ClusterRole', name: 'cluster-admin' };
      const file = manifest(c);
      const gone = await kubectl(setupKubeconfig(), ['delete', 'clusterrolebinding', ADMIN_BINDING]);
      if (gone.code !== 0) throw new Error(`kubectl delete failed: ${gone.stderr}`);
      await tamperWith('create', '-f', file);
    },
  },
];

beforeAll(async () => {
  s = await scenario('tm');
  await s.dir.addTool({ name: 'a', uidNumber: 52_301 });
  await s.dir.addTool({ name: 'b', uidNumber: 52_302 });
  await s.dir.addUser({ user: ADMIN, uidNumber: 52_310 });
  await s.dir.addToAdminGroup(ADMIN);
  expect((await s.sync()).failures).toEqual([]);
});

describe('tampering with what kubeusers owns, as field manager kubeusers with the spec-hash kept', () => {
  it.each(cases)('$name is put back by the next sync, with an Event and a metric', async (c) => {
    const before = await read(c.ref);
    // A tool's objects are reported in its namespace; a cluster-wide binding in kubeusers' own.
    const eventNamespace = c.ref.kind === 'ClusterRoleBinding' ? 'kubeusers-tm' : NS;
    const eventsBefore = (await eventsAbout(c.ref, eventNamespace)).length;
    const countBefore = await reverted(c.ref.kind);
    await c.tamper(before);
    const tampered = await read(c.ref);
    expect(owned(tampered, c.content)).not.toEqual(owned(before, c.content));
    expect(tampered.metadata?.annotations?.['kubeusers.io/spec-hash']).toBe(
      before.metadata?.annotations?.['kubeusers.io/spec-hash'],
    );

    const result = await s.sync();
    expect(result.failures).toEqual([]);
    expect(owned(await read(c.ref), c.content)).toEqual(owned(before, c.content));
    expect(await reverted(c.ref.kind)).toBe(countBefore + 1);
    expect((await eventsAbout(c.ref, eventNamespace)).length).toBe(eventsBefore + 1);
    // And it stays put: the next sync has nothing to do.
    expect((await s.sync()).done).toEqual([]);
  });

  it("leaves alone what is not kubeusers': an annotation and a label someone else adds", async () => {
    const countBefore = await reverted('Namespace');
    await tamperWith('annotate', 'namespace', NS, 'example.org/owner=team-a');
    await tamperWith('label', 'namespace', NS, 'example.org/tier=gold');
    const result = await s.sync();
    expect(result.done).toEqual([]);
    const ns = await read(namespace);
    expect(ns.metadata?.annotations?.['example.org/owner']).toBe('team-a');
    expect(ns.metadata?.labels?.['example.org/tier']).toBe('gold');
    expect(await reverted('Namespace')).toBe(countBefore);
  });
});
