// Server-side apply and delete for the kinds kubeusers owns, by reference.
import type * as k8s from '@kubernetes/client-node';
import { MERGE_PATCH, SERVER_SIDE_APPLY } from './apis.ts';
import type { Clients } from './client.ts';
import { isNotFound } from './errors.ts';
import { FIELD_MANAGER } from '../model/names.ts';

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  ResourceQuota: 'v1',
  LimitRange: 'v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
};

/** The REST path of each kind, for reading one object as plain JSON. */
const RESOURCES: Record<string, { prefix: string; plural: string }> = {
  Namespace: { prefix: '/api/v1', plural: 'namespaces' },
  ConfigMap: { prefix: '/api/v1', plural: 'configmaps' },
  ResourceQuota: { prefix: '/api/v1', plural: 'resourcequotas' },
  LimitRange: { prefix: '/api/v1', plural: 'limitranges' },
  RoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings' },
  ClusterRoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings' },
};

export interface Ref {
  kind: string;
  name: string;
  namespace?: string;
}

/** Server-side apply under kubeusers' field manager; force takes back fields someone else changed. */
export async function applyObject(clients: Clients, object: k8s.KubernetesObject): Promise<void> {
  clients.writes?.applying(object);
  const written = await clients.objects.patch(
    object,
    undefined,
    undefined,
    FIELD_MANAGER,
    true,
    SERVER_SIDE_APPLY,
  );
  clients.writes?.applied(object, written.metadata?.resourceVersion);
}

/**
 * Creates the object unless one of that name exists, which is left as it is. For objects an
 * operator's manifests own: kubeusers holds no field of an object it did not create, so re-applying
 * the manifests never conflicts with it (ADR 20). Whether it exists is asked with an empty merge
 * patch (a no-op write: no new version, no field owned; a patch never creates), because kubeusers'
 * role grants these objects `patch` and `create` by name only: no `get`, and a plain create carries
 * no name at authorisation. A missing one is created by server-side apply.
 */
export async function createIfMissing(clients: Clients, object: k8s.KubernetesObject): Promise<boolean> {
  const { apiVersion, kind } = object;
  const name = object.metadata?.name;
  try {
    await clients.objects.patch(
      { apiVersion, kind, metadata: { name } },
      undefined,
      undefined,
      FIELD_MANAGER,
      undefined,
      MERGE_PATCH,
    );
    return false;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await applyObject(clients, object);
  return true;
}

/** Deletes; an object already gone is fine. */
export async function deleteObject(clients: Clients, ref: Ref): Promise<void> {
  const apiVersion = API_VERSIONS[ref.kind];
  if (!apiVersion) throw new Error(`kubeusers does not delete ${ref.kind}`);
  clients.writes?.deleting(ref);
  try {
    await clients.objects.delete({
      apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * One object as plain JSON (no client-node model), or undefined when it is gone. Read as a list
 * narrowed to its name: kubeusers' role lists these kinds and needs no `get` for that.
 */
export async function readObject(clients: Clients, ref: Ref): Promise<Record<string, unknown> | undefined> {
  const r = RESOURCES[ref.kind];
  if (!r) throw new Error(`kubeusers does not read ${ref.kind}`);
  const ns = ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  const q = new URLSearchParams({ fieldSelector: `metadata.name=${ref.name}` });
  const listed = (await clients.getJson(`${r.prefix}${ns}/${r.plural}?${q.toString()}`)) as {
    items?: Record<string, unknown>[];
  };
  return listed.items?.[0];
}

/** A JSON merge patch under kubeusers' field manager: null removes a field whoever owns it. */
export async function mergePatchObject(
  clients: Clients,
  ref: Ref,
  patch: Record<string, unknown>,
): Promise<void> {
  const apiVersion = API_VERSIONS[ref.kind];
  if (!apiVersion) throw new Error(`kubeusers does not patch ${ref.kind}`);
  const metadata = {
    ...(patch.metadata as Record<string, unknown> | undefined),
    name: ref.name,
    ...(ref.namespace ? { namespace: ref.namespace } : {}),
  };
  await clients.objects.patch(
    { ...patch, apiVersion, kind: ref.kind, metadata },
    undefined,
    undefined,
    FIELD_MANAGER,
    undefined,
    MERGE_PATCH,
  );
}
