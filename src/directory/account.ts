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

export interface Directory {
  /** Reads every tool and admin. Throws on any error or partial result: callers must not act on doubt. */
  read(): Promise<DirectorySnapshot>;
  /** Throws when the directory cannot be reached or refuses the bind. */
  ping(): Promise<void>;
  /** Whether anything was created or modified since the last call (false on the first). */
  changed(now: Date): Promise<boolean>;
}
