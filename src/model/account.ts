// What the directory says an account is, once validated. Everything downstream works on these.
export type AccountKind = 'tool' | 'admin';

export interface Account {
  kind: AccountKind;
  /** The tool's short name, or the admin's uid. Unique within a kind. */
  name: string;
  /** The Unix account name; it becomes the Kubernetes user name (the certificate's CN). */
  uid: string;
  uidNumber: number;
  gidNumber: number;
  home: string;
  locked: boolean;
  dn: string;
}

export type SkipReason =
  | 'invalid-name'
  | 'name-too-long'
  | 'missing-uid-number'
  | 'missing-gid-number'
  | 'uid-number-too-low'
  | 'gid-number-too-low'
  | 'invalid-user-name'
  | 'missing-home'
  | 'home-outside-root'
  | 'duplicate-uid'
  | 'member-not-found';

export interface Skipped {
  kind: AccountKind;
  /** The name, when one could be read: a skipped name is never treated as removed. */
  name?: string;
  dn: string;
  reason: SkipReason;
  message: string;
}

export interface DirectorySnapshot {
  accounts: Account[];
  skipped: Skipped[];
}

export const accountKey = (kind: AccountKind, name: string): string => `${kind}/${name}`;

/** An entry a look at the directory found changed: a tool, an admin, or a change of admin membership. */
export interface ChangedEntry {
  kind: AccountKind;
  name: string;
  /** Taken out of the admin group: a removal, which only a full read may decide. */
  left?: true;
}

/**
 * What one entry's read says. `found`: the account; `skipped`: the entry is there but invalid, as a
 * full read would skip it; `undecided`: one entry's read cannot tell (not there, no longer an admin,
 * its uid number shared): only a full read, which keeps the removal guard, may act on that.
 */
export type OneRead =
  { found: Account } | { skipped: Skipped } | { undecided: 'not-found' | 'not-admin' | 'shared-uid-number' };

export interface Directory {
  /** Reads every tool and admin. Throws on any error or partial result: callers must not act on doubt. */
  read(): Promise<DirectorySnapshot>;
  /** Reads one account's entry (an admin: the person, and the group's membership by one base search). Throws like `read`. */
  readOne(kind: AccountKind, name: string): Promise<OneRead>;
  /** Throws when the directory cannot be reached or refuses the bind. */
  ping(): Promise<void>;
  /**
   * The entries of this project's tools and admins created or modified since the last call, and the
   * members added to or taken out of the admin group (none on the first call, which sets the mark).
   * Deletions of entries are not seen here: the full read on the interval finds them.
   */
  changes(now: Date): Promise<ChangedEntry[]>;
  /** Closes what the looks keep open between calls (the daemon's stop). */
  close?(): Promise<void>;
}

/** Every field equal (all of them primitives; a field added later is compared without a change here). */
export function sameAccount(a: Account, b: Account): boolean {
  const keys = Object.keys(a) as (keyof Account)[];
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/**
 * The accounts of the last complete directory read, given back when a new read finds one unchanged:
 * the new copy dies young instead of living through the sync (at 10,000 accounts a resync promoted
 * every one of them), and the desired objects' memo knows an unchanged account by identity.
 */
export class KnownAccounts {
  #kept = new Map<string, Account>();
  #seen = new Map<string, Account>();

  /** The kept account if `a` equals it, else `a`; either way what the read in progress saw. */
  same(a: Account): Account {
    const key = accountKey(a.kind, a.name);
    const kept = this.#kept.get(key);
    const use = kept !== undefined && sameAccount(kept, a) ? kept : a;
    this.#seen.set(key, use);
    return use;
  }

  /** The read completed: the next compares with what it saw. A failed read is never completed. */
  completed(): void {
    this.#kept = this.#seen;
    this.#seen = new Map();
  }

  /** A read that failed midway: forget what it saw. */
  abandoned(): void {
    this.#seen = new Map();
  }
}
