// gather: the cluster's side, with one labelled list per kind (never a request per namespace).
import type { V1ConfigMap, V1ObjectMeta } from '@kubernetes/client-node';
import type { Clients } from '../cluster/client.ts';
import { LEGACY_PARAMS_NAME } from '../model/pod-identity.ts';
import { ACCOUNT_LABEL, KIND_LABEL, managedSelector, ROLE_LABEL } from '../model/names.ts';
import type { AccountKind } from '../model/account.ts';
import { parseState, type AccountState } from '../model/state.ts';
import {
  indexObjects,
  observe,
  type Listed,
  type ObjectsByAccount,
  type ObservedObject,
} from '../model/observed.ts';

export interface ClusterSnapshot {
  states: AccountState[];
  /** Each account's objects, as decide reads them (the cache keeps this index; a list builds it). */
  objects: ObjectsByAccount;
  csrs: { name: string; created?: Date; account?: string }[];
}

type Item = Listed & { metadata?: V1ObjectMeta & { deletionTimestamp?: unknown } };
type List = { items?: Item[]; metadata?: { continue?: string } };

/** Only metadata is read where the content is not kubeusers' (CSRs): a smaller list. */
const METADATA = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

/** Objects a page: the cache's page size (ADR 21). */
const PAGE = 500;

// Lists are parsed JSON, never client-node models, read a page at a time: each page is summarised
// and dropped before the next is asked for, so at 10,000 accounts the peak is one page, not one
// whole list (ADR 9).
async function list<T>(
  clients: Clients,
  path: string,
  selector: string,
  summary: (item: Item) => T | undefined,
  opts: { accept?: string; name?: string } = {},
): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    // A metadata.name field selector lets RBAC authorise the list by that name (resourceNames).
    const q = new URLSearchParams({
      labelSelector: selector,
      ...(opts.name ? { fieldSelector: `metadata.name=${opts.name}` } : {}),
      limit: String(PAGE),
      ...(cont ? { continue: cont } : {}),
    });
    const page = (await clients.getJson(`${path}?${q.toString()}`, opts.accept)) as List;
    for (const item of page.items ?? []) {
      const t = summary(item);
      if (t !== undefined) out.push(t);
    }
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return out;
}

/**
 * The whole objects are read, since tampering is found by what they hold (not by who wrote it); each
 * is summarised into a digest of kubeusers' part while the page is walked.
 */
function observed(
  clients: Clients,
  kind: string,
  path: string,
  selector: string,
  name?: string,
): Promise<ObservedObject[]> {
  return list(clients, path, selector, (item) => observe({ ...item, kind }), name ? { name } : {});
}

/**
 * The cluster's side of a sync: everything of ours, or, for a sync of one account (a renewal or a
 * reissue through the API), only that account's objects, so that it costs the same at 10,000
 * accounts as at 10.
 */
export async function gatherCluster(
  clients: Clients,
  ownNamespace: string,
  account?: { kind: AccountKind; name: string },
): Promise<ClusterSnapshot> {
  const selector =
    managedSelector(ownNamespace) +
    (account ? `,${KIND_LABEL}=${account.kind},${ACCOUNT_LABEL}=${account.name}` : '');
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  // Sequential on purpose: each list is summarised and dropped before the next arrives (memory).
  const states = await list(
    clients,
    `/api/v1/namespaces/${ownNamespace}/configmaps`,
    `${selector},${ROLE_LABEL}=state`,
    (cm): AccountState | undefined => parseState(cm as V1ConfigMap),
  );
  const lists = [
    await observed(clients, 'Namespace', '/api/v1/namespaces', selector),
    await observed(clients, 'ResourceQuota', '/api/v1/resourcequotas', selector),
    await observed(clients, 'LimitRange', '/api/v1/limitranges', selector),
    await observed(clients, 'RoleBinding', `${rbac}/rolebindings`, selector),
    await observed(clients, 'ClusterRoleBinding', `${rbac}/clusterrolebindings`, selector),
    // The parameters an earlier release kept in tool namespaces, to delete them. kubeusers may read
    // no other ConfigMap outside its own namespace.
    await observed(
      clients,
      'ConfigMap',
      '/api/v1/configmaps',
      `${selector},${ROLE_LABEL}=pod-identity`,
      LEGACY_PARAMS_NAME,
    ),
  ];
  const objects = indexObjects(lists.flat());
  const csrs = await list(
    clients,
    '/apis/certificates.k8s.io/v1/certificatesigningrequests',
    selector,
    (c) => ({
      name: c.metadata?.name ?? '',
      ...(c.metadata?.creationTimestamp ? { created: new Date(c.metadata.creationTimestamp) } : {}),
    }),
    { accept: METADATA },
  );
  return { states, objects, csrs };
}

/** The cluster as kubeusers' cache holds it (src/cluster/cache.ts). */
export interface ClusterView {
  synced(): boolean;
  snapshot(account?: { kind: AccountKind; name: string }): ClusterSnapshot;
}

/**
 * From memory while the cache is synced (no request at all), else with the labelled lists: a cache
 * that is starting, or re-listing after a broken watch, is never decided on.
 */
export async function readCluster(
  view: ClusterView | undefined,
  clients: Clients,
  ownNamespace: string,
  account?: { kind: AccountKind; name: string },
): Promise<ClusterSnapshot> {
  if (view?.synced()) return view.snapshot(account);
  return gatherCluster(clients, ownNamespace, account);
}
