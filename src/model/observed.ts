// What the cluster holds of kubeusers' objects, summarised per object from one labelled list per kind:
// a digest of the content kubeusers owns is kept, never the object (ADR 9).
import { ACCOUNT_LABEL, HASH_ANNOTATION, KIND_LABEL } from './names.ts';
import { contentDigest, type Content } from './content.ts';

export interface ObservedObject {
  kind: string;
  name: string;
  namespace?: string;
  /** The spec-hash annotation: which desired object kubeusers last wrote (any writer can keep it). */
  hash?: string;
  /** The digest of what the object holds of kubeusers' content (content.ts). */
  digest: string;
  terminating: boolean;
  /** The account it belongs to, from its labels. */
  account?: { kind: 'tool' | 'admin'; name: string };
}

export interface Listed extends Content {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: unknown;
  };
}

export function observe(obj: Listed): ObservedObject {
  const md = obj.metadata ?? {};
  return {
    kind: obj.kind ?? '',
    name: md.name ?? '',
    ...(md.namespace ? { namespace: md.namespace } : {}),
    ...(md.annotations?.[HASH_ANNOTATION] ? { hash: md.annotations[HASH_ANNOTATION] } : {}),
    digest: contentDigest(obj),
    terminating: md.deletionTimestamp !== undefined && md.deletionTimestamp !== null,
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
