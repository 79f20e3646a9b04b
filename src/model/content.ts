// What kubeusers owns of an object, in a form the apiserver's own rewriting does not change, and a
// short digest of it. The same function reads a desired object and a listed one, so a difference
// means someone changed the object: whatever field-manager name they wrote under (issue 13).
import { hash } from 'node:crypto';
import { MANAGED_BY_LABEL } from './names.ts';
import { canonicalQuantity } from './quantity.ts';

type Obj = Record<string, unknown>;

/** Labels and annotations kubeusers sets: its own prefix, plus the two the pod-identity policy selects on. */
const OWN_PREFIX = 'kubeusers.io/';
const OWN_KEYS = new Set([MANAGED_BY_LABEL, 'tenancy']);
export const isOwnKey = (key: string): boolean => key.startsWith(OWN_PREFIX) || OWN_KEYS.has(key);

const RBAC = 'rbac.authorization.k8s.io';

/** The top-level fields of each kind that kubeusers owns whole (besides its labels and annotations). */
export const OWNED_FIELDS: Record<string, readonly string[]> = {
  Namespace: [],
  ResourceQuota: ['spec'],
  LimitRange: ['spec'],
  RoleBinding: ['roleRef', 'subjects'],
  ClusterRoleBinding: ['roleRef', 'subjects'],
  ConfigMap: ['data', 'binaryData'],
};

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Canonical JSON text: keys sorted; absent, null, empty maps and empty lists dropped (the apiserver
 * omits them too). Written as text in one pass, with no copy of the object in between.
 */
export function canon(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return canonList(v);
  if (isObj(v)) return v instanceof Date ? JSON.stringify(v) : canonMap(v);
  return JSON.stringify(v);
}

function canonList(v: unknown[]): string | undefined {
  const items: string[] = [];
  for (const x of v) {
    const c = canon(x);
    if (c !== undefined) items.push(c);
  }
  return items.length ? `[${items.join(',')}]` : undefined;
}

function canonMap(v: Obj): string | undefined {
  const items: string[] = [];
  for (const k of Object.keys(v).sort()) {
    const c = canon(v[k]);
    if (c !== undefined) items.push(`${JSON.stringify(k)}:${c}`);
  }
  return items.length ? `{${items.join(',')}}` : undefined;
}

/**
 * Quantities repeat across thousands of objects (every tool has the same quota), so each distinct
 * text is canonicalised once: a bounded memo of a pure function, cleared when full.
 */
const QUANTITY_MEMO = new Map<string, string>();
function quantity(text: string): string {
  let c = QUANTITY_MEMO.get(text);
  if (c === undefined) {
    if (QUANTITY_MEMO.size >= 4_096) QUANTITY_MEMO.clear();
    c = canonicalQuantity(text);
    QUANTITY_MEMO.set(text, c);
  }
  return c;
}

function quantities(v: unknown): Obj | undefined {
  if (!isObj(v)) return undefined;
  const out: Obj = {};
  for (const k in v) out[k] = quantity(String(v[k]));
  return out;
}

const LIMIT_MAPS = ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio'] as const;

/**
 * One LimitRange item as the apiserver stores it: for type Container, `default` takes `max` where
 * unset, then `defaultRequest` takes `default`, then `min` (SetDefaults_LimitRangeItem).
 */
export function limitItem(item: unknown): Obj {
  if (!isObj(item)) return {};
  const out: Obj = { ...item };
  for (const k of LIMIT_MAPS) if (item[k] !== undefined) out[k] = quantities(item[k]);
  if (out.type === 'Container') {
    const dflt = { ...(out.max as Obj | undefined), ...(out.default as Obj | undefined) };
    const request = { ...(out.min as Obj | undefined), ...dflt, ...(out.defaultRequest as Obj | undefined) };
    out.default = dflt;
    out.defaultRequest = request;
  }
  return out;
}

function quotaSpec(spec: unknown): string | undefined {
  return canon(isObj(spec) ? { ...spec, hard: quantities(spec.hard) } : spec);
}

function limitSpec(spec: unknown): string | undefined {
  return canon(
    isObj(spec) && Array.isArray(spec.limits) ? { ...spec, limits: spec.limits.map(limitItem) } : spec,
  );
}

/** A subject as the apiserver stores it: Users and Groups get the RBAC apiGroup when it is unset. */
function subject(s: unknown): unknown {
  if (!isObj(s)) return s;
  const apiGroup = s.apiGroup || (s.kind === 'User' || s.kind === 'Group' ? RBAC : '');
  return { ...s, apiGroup };
}

function roleRef(r: unknown): string | undefined {
  return canon(isObj(r) ? { ...r, apiGroup: r.apiGroup || RBAC } : r);
}

/** Subjects compare as a set in any order; each one canonical first. */
function subjects(list: unknown): string | undefined {
  if (!Array.isArray(list)) return canon(list);
  const items = list.map((s) => canon(subject(s))).filter((c): c is string => c !== undefined);
  return items.length ? `[${items.sort().join(',')}]` : undefined;
}

/** How each owned field is read; any other field is taken as it is. */
const PART: Record<string, (v: unknown) => string | undefined> = {
  'ResourceQuota.spec': quotaSpec,
  'LimitRange.spec': limitSpec,
  'RoleBinding.roleRef': roleRef,
  'RoleBinding.subjects': subjects,
  'ClusterRoleBinding.roleRef': roleRef,
  'ClusterRoleBinding.subjects': subjects,
};

function ownKeys(map: unknown): Obj | undefined {
  if (!isObj(map)) return undefined;
  const out: Obj = {};
  for (const k in map) if (isOwnKey(k)) out[k] = map[k];
  return out;
}

/** Any object: a desired one from manifests.ts, or one as listed (parsed JSON). */
export interface Content {
  kind?: string;
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

const field = (o: Content, name: string): unknown => (o as Obj)[name];

/** The parts kubeusers owns as canonical JSON, by part name (`labels`, `annotations`, the owned fields). */
export function ownedParts(obj: Content, kind = obj.kind ?? ''): Record<string, string | undefined> {
  const parts: Record<string, string | undefined> = {
    labels: canon(ownKeys(obj.metadata?.labels)),
    annotations: canon(ownKeys(obj.metadata?.annotations)),
  };
  for (const name of OWNED_FIELDS[kind] ?? [])
    parts[name] = (PART[`${kind}.${name}`] ?? canon)(field(obj, name));
  return parts;
}

/** 128 bits of SHA-256 over the owned parts: 22 characters kept per object instead of the object. */
export function contentDigest(obj: Content): string {
  // One line per part, always in the same order; canonical JSON holds no raw newline.
  const text = Object.entries(ownedParts(obj))
    .map(([k, v]) => `${k}=${v ?? ''}`)
    .join('\n');
  return hash('sha256', text, 'base64url').slice(0, 22);
}

/** The owned parts that differ between what the cluster holds and what kubeusers wants. */
export function changedParts(live: Content, desired: Content): string[] {
  // Items of a list carry no kind: the desired object's is the one.
  const a = ownedParts(live, desired.kind);
  const b = ownedParts(desired);
  return Object.keys(b).filter((k) => a[k] !== b[k]);
}

/** Fields the apiserver refuses to change in place: a difference there needs delete and create. */
const IMMUTABLE: Record<string, (o: Content) => string | undefined> = {
  RoleBinding: (o) => roleRef(field(o, 'roleRef')),
  ClusterRoleBinding: (o) => roleRef(field(o, 'roleRef')),
  ResourceQuota: (o) => quotaScopes(field(o, 'spec')),
};

function quotaScopes(spec: unknown): string | undefined {
  if (!isObj(spec)) return undefined;
  const scopes = Array.isArray(spec.scopes) ? spec.scopes.map(String).sort() : [];
  return canon({ scopes, selector: spec.scopeSelector });
}

/** What is in `live` under a map kubeusers owns but not in `desired`, as null in a JSON merge patch. */
function strays(live: unknown, desired: unknown): Obj | undefined {
  if (!isObj(live)) return undefined;
  const want = isObj(desired) ? desired : {};
  const out: Obj = {};
  for (const [k, v] of Object.entries(live)) {
    if (v === undefined || v === null) continue;
    if (want[k] === undefined || want[k] === null) out[k] = null;
    else if (isObj(v)) {
      const inner = strays(v, want[k]);
      if (inner) out[k] = inner;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

export interface RevertPlan {
  /** An immutable field differs: delete the object and create it again. */
  replace: boolean;
  /**
   * A JSON merge patch removing what someone else added under kubeusers' labels, annotations and
   * owned maps: server-side apply only removes fields its own manager entry owned.
   */
  removals?: Obj;
}

export function revertPlan(live: Content, desired: Content): RevertPlan {
  const immutable = IMMUTABLE[desired.kind ?? ''];
  if (immutable && immutable(live) !== immutable(desired)) return { replace: true };
  const removals: Obj = {};
  const meta = metadataStrays(live, desired);
  if (meta) removals.metadata = meta;
  for (const name of OWNED_FIELDS[desired.kind ?? ''] ?? []) {
    const extra = strays(field(live, name), field(desired, name));
    if (extra) removals[name] = extra;
  }
  return Object.keys(removals).length ? { replace: false, removals } : { replace: false };
}

/** kubeusers' labels and annotations that are on the object but not wanted. */
function metadataStrays(live: Content, desired: Content): Obj | undefined {
  const meta: Obj = {};
  for (const k of ['labels', 'annotations'] as const) {
    const extra = strays(ownKeys(live.metadata?.[k]), desired.metadata?.[k]);
    if (extra) meta[k] = extra;
  }
  return Object.keys(meta).length ? meta : undefined;
}
