// What the cluster holds of kubeusers' objects, summarised per object from one labelled list per kind:
// a digest of the content kubeusers owns is kept, never the object (ADR 9).
import { ACCOUNT_LABEL, HASH_ANNOTATION, KIND_LABEL } from './names.ts';
import { contentDigest, type Content } from './content.ts';
import { accountKey } from './account.ts';

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

/** One account's objects by object key (`observedKey`): what decide reads. */
export type OwnObjects = ReadonlyMap<string, ObservedObject>;

/** Every account's objects, by account key (`accountKey`). */
export type ObjectsByAccount = ReadonlyMap<string, OwnObjects>;

export const NO_OBJECTS: OwnObjects = new Map();

/**
 * An object put into (or, with `present` false, taken out of) its account's part of the index. The
 * account's map is replaced, never changed in place: a snapshot taken before keeps what it saw.
 */
export function indexObject(index: Map<string, OwnObjects>, o: ObservedObject, present: boolean): void {
  if (!o.account) return;
  const key = accountKey(o.account.kind, o.account.name);
  const own = new Map(index.get(key));
  const k = observedKey(o.kind, o.namespace, o.name);
  if (present) own.set(k, o);
  else own.delete(k);
  if (own.size > 0) index.set(key, own);
  else index.delete(key);
}

/** The index of many objects at once (a list, a cache's relist): each account's map built once. */
export function indexObjects(objects: Iterable<ObservedObject>): Map<string, OwnObjects> {
  const index = new Map<string, Map<string, ObservedObject>>();
  for (const o of objects) {
    if (!o.account) continue;
    const key = accountKey(o.account.kind, o.account.name);
    let own = index.get(key);
    if (!own) index.set(key, (own = new Map<string, ObservedObject>()));
    own.set(observedKey(o.kind, o.namespace, o.name), o);
  }
  return index;
}

/** Every object of the index, in no particular order. */
export function allObjects(index: ObjectsByAccount): ObservedObject[] {
  const out: ObservedObject[] = [];
  for (const own of index.values()) for (const o of own.values()) out.push(o);
  return out;
}

function accountOf(l: Record<string, string>): Pick<ObservedObject, 'account'> {
  const kind = l[KIND_LABEL];
  const name = l[ACCOUNT_LABEL];
  return (kind === 'tool' || kind === 'admin') && name ? { account: { kind, name } } : {};
}
