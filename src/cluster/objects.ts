// Server-side apply and delete for the kinds kubeusers owns, by reference.
import * as k8s from '@kubernetes/client-node';
import type { Clients } from './client.ts';
import { isNotFound } from './errors.ts';
import { FIELD_MANAGER } from './names.ts';

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  ResourceQuota: 'v1',
  LimitRange: 'v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
};

export interface Ref {
  kind: string;
  name: string;
  namespace?: string;
}

/** Server-side apply under kubeusers' field manager; force takes back fields someone else changed. */
export async function applyObject(clients: Clients, object: k8s.KubernetesObject): Promise<void> {
  await clients.objects.patch(
    object,
    undefined,
    undefined,
    FIELD_MANAGER,
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
}

/** Deletes; an object already gone is fine. */
export async function deleteObject(clients: Clients, ref: Ref): Promise<void> {
  const apiVersion = API_VERSIONS[ref.kind];
  if (!apiVersion) throw new Error(`kubeusers does not delete ${ref.kind}`);
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
