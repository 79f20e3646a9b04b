// Pure: the objects an account should have in the cluster, derived in this one place from the account
// (or, with the directory unreachable, the account its state records: accountFromState) and the
// state's epoch. decide plans with them; granting and revoking write the bindings among them.
import type { Account } from './account.ts';
import { contentDigest } from './content.ts';
import { HASH_ANNOTATION } from './names.ts';
import {
  adminObjects,
  objectKey,
  resourcesFor,
  subjectsOf,
  toolNamespaceObject,
  toolObjects,
  type Desired,
  type ManifestSettings,
  type Resources,
  type Subject,
} from './manifests.ts';
import { boundGroups, type AccountState } from './state.ts';

export interface DesiredSettings extends ManifestSettings {
  resources: Resources;
  overrides: Record<
    string,
    { version: number; quota?: Record<string, string>; limitRange?: Resources['limitRange'] }
  >;
}

/** Whom the account's bindings name: the epoch groups the state binds, and an adopted legacy user. */
export function subjectsFor(instance: string, state: AccountState): Subject[] {
  return subjectsOf(boundGroups(instance, state), state.legacyUser);
}

export function desiredObjects(account: Account, state: AccountState, s: DesiredSettings): Desired[] {
  const subjects = subjectsFor(s.instance, state);
  if (account.kind === 'admin') return adminObjects(account, s, subjects);
  const resources = resourcesFor(account.name, s.resources, s.overrides);
  return [toolNamespaceObject(account, s), ...toolObjects(account, s, resources, subjects)];
}

const GRANTS = new Set(['RoleBinding', 'ClusterRoleBinding']);

/** The objects among the desired ones that grant the account its rights: its bindings. */
export function grantObjects(account: Account, state: AccountState, s: DesiredSettings): Desired[] {
  return desiredObjects(account, state, s).filter((o) => GRANTS.has(o.kind ?? ''));
}

/** What a plan needs of a desired object to find its drift: where it lives, its content, its hash. */
export interface DesiredSummary {
  key: string;
  digest: string;
  hash: string | undefined;
}

export const summarize = (o: Desired): DesiredSummary => ({
  key: objectKey(o),
  digest: contentDigest(o),
  hash: o.metadata.annotations[HASH_ANNOTATION],
});

/**
 * The summaries of each account's desired objects, kept between syncs: a resync with nothing changed
 * would otherwise build and hash every object of every account again (most of its CPU). An entry is
 * used only while everything `desiredObjects` reads is the same: the account as the directory gave
 * it, the groups and legacy user its bindings name, and the settings object (read once at start).
 * It holds digests and keys, never the objects (about 1 KB an account).
 */
export class DesiredMemo {
  #settings: DesiredSettings | undefined;
  readonly #entries = new Map<string, MemoEntry>();

  summaries(account: Account, state: AccountState, s: DesiredSettings): readonly DesiredSummary[] {
    if (s !== this.#settings) {
      this.#entries.clear();
      this.#settings = s;
    }
    const id = `${account.kind}/${account.name}`;
    const hit = this.#entries.get(id);
    // The very objects of last time (the directory hands an unchanged account out again, the cache an
    // unchanged state; neither is ever changed in place): nothing desiredObjects reads can differ.
    if (hit?.account === account && hit.state === state) return hit.summaries;
    const input = memoInput(account, state, s.instance);
    if (hit?.input === input) {
      this.#entries.set(id, { ...hit, account, state });
      return hit.summaries;
    }
    const summaries = desiredObjects(account, state, s).map(summarize);
    this.#entries.set(id, { account, state, input, summaries });
    return summaries;
  }

  /** Forgets the accounts not in `ids` (`kind/name`), after a full sync. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.#entries.keys()) if (!ids.has(id)) this.#entries.delete(id);
  }

  get size(): number {
    return this.#entries.size;
  }
}

interface MemoEntry {
  /** The objects the summaries were last asked for with (compared by identity first). */
  account: Account;
  state: AccountState;
  input: string;
  summaries: readonly DesiredSummary[];
}

/** Everything desiredObjects reads of the account and the state, as one string (JSON: no collisions). */
const memoInput = (account: Account, state: AccountState, instance: string): string =>
  JSON.stringify([account, boundGroups(instance, state), state.legacyUser ?? null]);

/** Without a memo: the summaries built afresh. */
export const freshSummaries: Pick<DesiredMemo, 'summaries'> = {
  summaries: (account, state, s) => desiredObjects(account, state, s).map(summarize),
};
