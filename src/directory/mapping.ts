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
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
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

type Checked = { ok: Account } | { skip: Skipped };

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

function checkPosix(
  kind: AccountKind,
  entry: RawEntry,
  name: string,
  rules: MappingRules,
  root: string,
): Checked {
  const a = rules.attributes;
  const uid = first(entry, a.uid) ?? name;
  const uidNumber = intOf(first(entry, a.uidNumber));
  if (uidNumber === undefined) {
    return {
      skip: skip(kind, entry.dn, 'missing-uid-number', `${kind} "${name}" has no valid ${a.uidNumber}`, name),
    };
  }
  const gidNumber = intOf(first(entry, a.gidNumber));
  if (gidNumber === undefined) {
    return {
      skip: skip(kind, entry.dn, 'missing-gid-number', `${kind} "${name}" has no valid ${a.gidNumber}`, name),
    };
  }
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

/**
 * Maps every entry, then drops each group of accounts that share a name or a uid number: which of
 * them is right cannot be told, and issuing to the wrong one would hand over another's identity.
 */
export function mapEntries(kind: AccountKind, entries: RawEntry[], rules: MappingRules): DirectorySnapshot {
  const mapper = kind === 'tool' ? mapTool : mapAdmin;
  const accounts: Account[] = [];
  const skipped: Skipped[] = [];
  for (const entry of [...entries].sort((x, y) => (x.dn < y.dn ? -1 : 1))) {
    const r = mapper(entry, rules);
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
