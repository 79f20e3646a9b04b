// gather: the cluster's side, with one labelled list per kind (never a request per namespace).
import type { V1ObjectMeta, V1CertificateSigningRequest } from '@kubernetes/client-node';
import type { Clients } from '../cluster/client.ts';
import { managedSelector, ROLE_LABEL } from '../cluster/names.ts';
import { parseState, type AccountState } from '../cluster/state.ts';
import { observe, observedKey, type ObservedObject } from './observed.ts';

export interface ClusterSnapshot {
  states: AccountState[];
  objects: ObservedObject[];
  csrs: { name: string; created?: Date; account?: string }[];
}

type Listed = { items: { kind?: string; metadata?: V1ObjectMeta }[] };

function summarise(kind: string, list: Listed): ObservedObject[] {
  return list.items.map((item) => observe({ ...item, kind }));
}

export async function gatherCluster(clients: Clients, ownNamespace: string): Promise<ClusterSnapshot> {
  const labelSelector = managedSelector(ownNamespace);
  const { core, rbac, certificates } = clients;
  // Sequential on purpose: each list is summarised and dropped before the next arrives (memory).
  const stateList = await core.listNamespacedConfigMap({
    namespace: ownNamespace,
    labelSelector: `${labelSelector},${ROLE_LABEL}=state`,
  });
  const states = stateList.items.map(parseState).filter((s): s is AccountState => s !== undefined);
  const objects = [
    ...summarise('Namespace', await core.listNamespace({ labelSelector })),
    ...summarise('ResourceQuota', await core.listResourceQuotaForAllNamespaces({ labelSelector })),
    ...summarise('LimitRange', await core.listLimitRangeForAllNamespaces({ labelSelector })),
    ...summarise('RoleBinding', await rbac.listRoleBindingForAllNamespaces({ labelSelector })),
    ...summarise('ClusterRoleBinding', await rbac.listClusterRoleBinding({ labelSelector })),
    ...summarise(
      'ConfigMap',
      await core.listConfigMapForAllNamespaces({
        labelSelector: `${labelSelector},${ROLE_LABEL}=pod-identity`,
      }),
    ),
  ];
  const csrList = await certificates.listCertificateSigningRequest({ labelSelector });
  const csrs = csrList.items.map((c: V1CertificateSigningRequest) => ({
    name: c.metadata?.name ?? '',
    ...(c.metadata?.creationTimestamp ? { created: new Date(c.metadata.creationTimestamp) } : {}),
  }));
  return { states, objects, csrs };
}

export function indexObjects(objects: ObservedObject[]): Map<string, ObservedObject> {
  return new Map(objects.map((o) => [observedKey(o.kind, o.namespace, o.name), o]));
}
