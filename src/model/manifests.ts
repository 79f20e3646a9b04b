// Pure builders of the objects kubeusers owns, each with a hash of its desired content so that a
// no-op sync can tell "already right" from a list, without a request per object.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { podIdentityMetadata, type PodIdentitySettings } from './pod-identity.ts';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Account } from './account.ts';
import {
  adminBindingName,
  HASH_ANNOTATION,
  RESOURCES_VERSION_ANNOTATION,
  labels,
  LIMIT_RANGE,
  QUOTA,
  ROLE_BINDING,
  toolNamespace,
} from './names.ts';

export interface Resources {
  quota: Record<string, string>;
  limitRange: {
    type: string;
    default?: Record<string, string>;
    defaultRequest?: Record<string, string>;
    max?: Record<string, string>;
    min?: Record<string, string>;
  }[];
}

export interface ManifestSettings {
  /** The host paths the pod-identity policy allows; absent, none (the uid and gid are always set). */
  podIdentity?: PodIdentitySettings;
  /** kubeusers' own namespace, which names this installation in every label. */
  instance: string;
  namespacePrefix: string;
  toolClusterRole: string;
  adminClusterRoles: string[];
}

export interface Subject {
  kind: 'Group' | 'User';
  name: string;
}

export type Desired = KubernetesObject & {
  metadata: { name: string; namespace?: string; annotations: Record<string, string> };
};

const RBAC = 'rbac.authorization.k8s.io';

function withHash<T extends KubernetesObject>(obj: T): Desired {
  const hash = createHash('sha256').update(JSON.stringify(obj)).digest('hex').slice(0, 16);
  const metadata = {
    ...obj.metadata,
    annotations: { ...obj.metadata?.annotations, [HASH_ANNOTATION]: hash },
  };
  return { ...obj, metadata } as Desired;
}

export function objectKey(o: KubernetesObject): string {
  return `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** The subjects an account's bindings name: its epoch groups (see boundGroups), plus an adopted legacy user. */
export function subjectsOf(groups: string[], legacyUser?: string): Subject[] {
  const subjects: Subject[] = groups.map((name) => ({ kind: 'Group', name }));
  if (legacyUser) subjects.push({ kind: 'User', name: legacyUser });
  return subjects;
}

function rbacSubjects(subjects: Subject[]): { apiGroup: string; kind: string; name: string }[] {
  return subjects.map((s) => ({ apiGroup: RBAC, kind: s.kind, name: s.name }));
}

/** The tool's Namespace. It also carries what the pod-identity policy trusts about the tool (uid,
 * gid, host paths): a tool has no rights on namespaces, so it cannot change them (ADR 8). */
export function toolNamespaceObject(account: Account, s: ManifestSettings): Desired {
  const identity = podIdentityMetadata(account.uidNumber, account.gidNumber, s.podIdentity);
  return withHash({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: toolNamespace(s.namespacePrefix, account.name),
      labels: {
        ...labels(s.instance, 'tool', account.name, 'namespace'),
        tenancy: 'tool',
        ...identity.labels,
      },
      annotations: identity.annotations,
    },
  });
}

export function toolObjects(
  account: Account,
  s: ManifestSettings,
  resources: Resources & { version: number },
  subjects: Subject[],
): Desired[] {
  const namespace = toolNamespace(s.namespacePrefix, account.name);
  // The override's version is part of the object, so bumping it alone re-applies.
  const annotations = { [RESOURCES_VERSION_ANNOTATION]: String(resources.version) };
  const meta = (name: string, role: string): k8s.V1ObjectMeta & { name: string } => ({
    name,
    namespace,
    labels: labels(s.instance, 'tool', account.name, role),
    annotations,
  });
  return [
    withHash({
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: meta(QUOTA, 'quota'),
      spec: { hard: resources.quota },
    }),
    withHash({
      apiVersion: 'v1',
      kind: 'LimitRange',
      // Format 2: the `default` limits reach the apiserver (once lost to client-node's model). The new
      // annotation changes the spec-hash, so the upgrade rewrites each LimitRange once as an update,
      // not as tampering.
      metadata: {
        ...meta(LIMIT_RANGE, 'limits'),
        annotations: { ...annotations, 'kubeusers.io/format': '2' },
      },
      spec: { limits: resources.limitRange },
    }),
    withHash({
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: { ...meta(ROLE_BINDING, 'binding'), annotations: {} },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: s.toolClusterRole },
      subjects: rbacSubjects(subjects),
    }),
  ];
}

export function adminObjects(account: Account, s: ManifestSettings, subjects: Subject[]): Desired[] {
  return s.adminClusterRoles.map((role) =>
    withHash({
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: {
        name: adminBindingName(s.instance, account.name, role),
        labels: labels(s.instance, 'admin', account.name, 'binding'),
      },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role },
      subjects: rbacSubjects(subjects),
    }),
  );
}

/** Default resources with a tool's override applied. */
export function resourcesFor(
  tool: string,
  defaults: Resources,
  overrides: Record<
    string,
    { version: number; quota?: Record<string, string>; limitRange?: Resources['limitRange'] }
  >,
): Resources & { version: number } {
  const o = overrides[tool];
  if (!o) return { ...defaults, version: 0 };
  return {
    quota: { ...defaults.quota, ...o.quota },
    limitRange: o.limitRange ?? defaults.limitRange,
    version: o.version,
  };
}
