// What the cluster holds of kubeusers' objects, summarised per object from one labelled list per kind.
import type { KubernetesObject, V1ManagedFieldsEntry } from '@kubernetes/client-node';
import { ACCOUNT_LABEL, FIELD_MANAGER, HASH_ANNOTATION, KIND_LABEL } from '../cluster/names.ts';

export interface ObservedObject {
  kind: string;
  name: string;
  namespace?: string;
  hash?: string;
  /** Someone else has written fields kubeusers owns (spec, subjects, roleRef, data). */
  foreign: boolean;
  terminating: boolean;
  /** The account it belongs to, from its labels. */
  account?: { kind: 'tool' | 'admin'; name: string };
}

const OWNED = ['f:spec', 'f:subjects', 'f:roleRef', 'f:data'];

function touchesOwned(m: V1ManagedFieldsEntry): boolean {
  if (m.manager === FIELD_MANAGER || m.subresource) return false;
  const fields = (m.fieldsV1 ?? {}) as Record<string, unknown>;
  return OWNED.some((k) => k in fields);
}

export function observe(obj: KubernetesObject & { metadata?: { deletionTimestamp?: Date } }): ObservedObject {
  const md = obj.metadata ?? {};
  return {
    kind: obj.kind ?? '',
    name: md.name ?? '',
    ...(md.namespace ? { namespace: md.namespace } : {}),
    ...(md.annotations?.[HASH_ANNOTATION] ? { hash: md.annotations[HASH_ANNOTATION] } : {}),
    foreign: (md.managedFields ?? []).some(touchesOwned),
    terminating: md.deletionTimestamp !== undefined,
    ...accountOf(md.labels ?? {}),
  };
}

export const observedKey = (kind: string, namespace: string | undefined, name: string): string =>
  `${kind}/${namespace ?? ''}/${name}`;

function accountOf(l: Record<string, string>): Pick<ObservedObject, 'account'> {
  const kind = l[KIND_LABEL];
  const name = l[ACCOUNT_LABEL];
  return (kind === 'tool' || kind === 'admin') && name ? { account: { kind, name } } : {};
}
