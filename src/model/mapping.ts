// Pure mapping from LDAP entries to validated Accounts. An entry that fails a check is skipped with a
// reason; the rest of the run goes on.
import { posix } from 'node:path';
import type { Account, AccountKind, DirectorySnapshot, Skipped } from './account.ts';

export type RawEntry = Record<string, unknown> & { dn: string };

export interface MappingRules {
  project: string;
  homesRoot: string;
  adminHomesRoot: string;
  disabledPolicyDn: string;
  attributes: { uid: string; uidNumber: string; gidNumber: string; homeDirectory: string };
  /** Lower uid and gid numbers belong to the system (root is 0): such an account gets nothing. */
  minUidNumber: number;
  minGidNumber: number;
}

/** The default floor for uid and gid numbers: below it, Debian's system accounts. */
export const DEFAULT_MIN_ID_NUMBER = 1000;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SAFE_USER_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * A Kubernetes user name kubeusers may put in a certificate: lower-case letters, digits, `-` and `.`,
 * so never `system:…` nor anything with a `:` (the apiserver's own identities all have one).
 */
export function isSafeUserName(name: string): boolean {
  return name.length <= 253 && SAFE_USER_NAME.test(name);
}

/** The one user name an account may have: `<project>.<tool>` for a tool, the plain uid for an admin. */
export function expectedUserName(kind: AccountKind, name: string, project: string): string {
  return kind === 'tool' ? `${project}.${name}` : name;
}
/** `tool-<name>` must stay a 63-character DNS label, with room for kubeusers' own suffixes. */
export const MAX_TOOL_NAME = 54;

function first(entry: RawEntry, attr: string): string | undefined {
  const value = entry[attr];
  const one = Array.isArray(value) ? (value[0] as unknown) : value;
  if (one === undefined || one === null) return undefined;
  if (Buffer.isBuffer(one)) return one.length ? one.toString('utf8') : undefined;
  const text = typeof one === 'string' || typeof one === 'number' ? String(one) : '';
  return text === '' ? undefined : text;
}

function intOf(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

/** ppolicy: a lock time of any value locks; so does the platform's "disabled" policy subentry. */
export function isLocked(entry: RawEntry, disabledPolicyDn: string): boolean {
  if (first(entry, 'pwdAccountLockedTime') !== undefined) return true;
  const policy = first(entry, 'pwdPolicySubentry');
  return policy !== undefined && policy.toLowerCase() === disabledPolicyDn.toLowerCase();
}

export function isUnder(path: string, root: string): boolean {
  // A path that normalises differently (`.`, `..`, `//`) is refused rather than interpreted.
  const trimmed = path.replace(/\/+$/, '');
  const base = posix.normalize(root).replace(/\/+$/, '');
  return posix.isAbsolute(path) && posix.normalize(trimmed) === trimmed && trimmed.startsWith(`${base}/`);
}

function skip(
  kind: AccountKind,
  dn: string,
  reason: Skipped['reason'],
  message: string,
  name?: string,
): Skipped {
  return { kind, dn, reason, message, ...(name === undefined ? {} : { name }) };
}

export type Checked = { ok: Account } | { skip: Skipped };

function checkToolName(entry: RawEntry, rules: MappingRules, uid: string | undefined): Checked | string {
  const prefix = `${rules.project}.`;
  const cn = first(entry, 'cn') ?? uid ?? '';
  const name = cn.startsWith(prefix) ? cn.slice(prefix.length) : cn;
  if (name.length > MAX_TOOL_NAME) {
    return {
      skip: skip(
        'tool',
        entry.dn,
        'name-too-long',
        `tool name "${name}" is longer than ${MAX_TOOL_NAME} characters`,
        name,
      ),
    };
  }
  if (!DNS_LABEL.test(name)) {
    return {
      skip: skip('tool', entry.dn, 'invalid-name', `tool name "${name}" is not a DNS-1123 label`, name),
    };
  }
  return name;
}

/**
 * The user name comes from the directory but is checked against the one derived from the account:
 * whoever may edit an entry's `uid` must not choose whom its certificate names.
 */
function checkUserName(
  kind: AccountKind,
  entry: RawEntry,
  name: string,
  rules: MappingRules,
): string | Skipped {
  const expected = expectedUserName(kind, name, rules.project);
  const uid = first(entry, rules.attributes.uid) ?? expected;
  if (uid === expected && isSafeUserName(uid)) return uid;
  return skip(
    kind,
    entry.dn,
    'invalid-user-name',
    `${kind} "${name}" has ${rules.attributes.uid} "${uid}"; its Kubernetes user name must be "${expected}"`,
    name,
  );
}

type Ids = { uidNumber: number; gidNumber: number };

function checkIds(kind: AccountKind, entry: RawEntry, name: string, rules: MappingRules): Ids | Skipped {
  const a = rules.attributes;
  const uidNumber = intOf(first(entry, a.uidNumber));
  if (uidNumber === undefined)
    return skip(kind, entry.dn, 'missing-uid-number', `${kind} "${name}" has no valid ${a.uidNumber}`, name);
  const gidNumber = intOf(first(entry, a.gidNumber));
  if (gidNumber === undefined)
    return skip(kind, entry.dn, 'missing-gid-number', `${kind} "${name}" has no valid ${a.gidNumber}`, name);
  if (uidNumber < rules.minUidNumber)
    return skip(
      kind,
      entry.dn,
      'uid-number-too-low',
      `${kind} "${name}" has ${a.uidNumber} ${uidNumber}, below the minimum ${rules.minUidNumber}`,
      name,
    );
  if (gidNumber < rules.minGidNumber)
    return skip(
      kind,
      entry.dn,
      'gid-number-too-low',
      `${kind} "${name}" has ${a.gidNumber} ${gidNumber}, below the minimum ${rules.minGidNumber}`,
      name,
    );
  return { uidNumber, gidNumber };
}

function checkPosix(
  kind: AccountKind,
  entry: RawEntry,
  name: string,
  rules: MappingRules,
  root: string,
): Checked {
  const a = rules.attributes;
  const uid = checkUserName(kind, entry, name, rules);
  if (typeof uid !== 'string') return { skip: uid };
  const ids = checkIds(kind, entry, name, rules);
  if ('reason' in ids) return { skip: ids };
  const { uidNumber, gidNumber } = ids;
  const home = first(entry, a.homeDirectory);
  if (home === undefined) {
    return {
      skip: skip(kind, entry.dn, 'missing-home', `${kind} "${name}" has no ${a.homeDirectory}`, name),
    };
  }
  if (!isUnder(home, root)) {
    return {
      skip: skip(
        kind,
        entry.dn,
        'home-outside-root',
        `${kind} "${name}" has its home ${home} outside ${root}`,
        name,
      ),
    };
  }
  const locked = isLocked(entry, rules.disabledPolicyDn);
  return { ok: { kind, name, uid, uidNumber, gidNumber, home: posix.normalize(home), locked, dn: entry.dn } };
}

export function mapTool(entry: RawEntry, rules: MappingRules): Checked {
  const name = checkToolName(entry, rules, first(entry, rules.attributes.uid));
  if (typeof name !== 'string') return name;
  return checkPosix('tool', entry, name, rules, rules.homesRoot);
}

export function mapAdmin(entry: RawEntry, rules: MappingRules): Checked {
  const uid = first(entry, rules.attributes.uid);
  if (uid === undefined || !DNS_LABEL.test(uid) || uid.length > MAX_TOOL_NAME) {
    const reason = uid !== undefined && uid.length > MAX_TOOL_NAME ? 'name-too-long' : 'invalid-name';
    return {
      skip: skip(
        'admin',
        entry.dn,
        reason,
        `admin uid "${uid ?? ''}" is not a DNS-1123 label of at most ${MAX_TOOL_NAME} characters`,
        uid,
      ),
    };
  }
  return checkPosix('admin', entry, uid, rules, rules.adminHomesRoot);
}

export const mapperOf = (kind: AccountKind): ((entry: RawEntry, rules: MappingRules) => Checked) =>
  kind === 'tool' ? mapTool : mapAdmin;

/**
 * Maps every entry, then drops each group of accounts that share a name or a uid number: which of
 * them is right cannot be told, and issuing to the wrong one would hand over another's identity.
 */
export function mapEntries(kind: AccountKind, entries: RawEntry[], rules: MappingRules): DirectorySnapshot {
  const mapper = mapperOf(kind);
  return uniqueAccounts(
    kind,
    entries.map((e) => mapper(e, rules)),
  );
}

/**
 * The accounts of entries mapped one by one (as the pages of a read arrive), in the order of their
 * DNs, less each group that shares a name or a uid number.
 */
export function uniqueAccounts(kind: AccountKind, checked: readonly Checked[]): DirectorySnapshot {
  const accounts: Account[] = [];
  const skipped: Skipped[] = [];
  const dnOf = (c: Checked): string => ('ok' in c ? c.ok.dn : c.skip.dn);
  for (const r of [...checked].sort((x, y) => (dnOf(x) < dnOf(y) ? -1 : 1))) {
    if ('ok' in r) accounts.push(r.ok);
    else skipped.push(r.skip);
  }
  const count = (key: (a: Account) => string | number): Map<string | number, number> => {
    const m = new Map<string | number, number>();
    for (const a of accounts) m.set(key(a), (m.get(key(a)) ?? 0) + 1);
    return m;
  };
  const byName = count((a) => a.name);
  const byUid = count((a) => a.uidNumber);
  const unique = accounts.filter((a) => {
    const dup = (byName.get(a.name) ?? 0) > 1 || (byUid.get(a.uidNumber) ?? 0) > 1;
    if (dup) {
      skipped.push(
        skip(
          kind,
          a.dn,
          'duplicate-uid',
          `${kind} "${a.name}" (uid ${a.uidNumber}) shares its name or uid number with another entry`,
          a.name,
        ),
      );
    }
    return !dup;
  });
  return { accounts: unique, skipped };
}
