// Which entries changed since the last look at the directory: pure, so that the mark's edge cases
// (several entries in the same second, a clock that reads the same stamp twice) are table-tested.
import type { AccountKind, ChangedEntry } from '../model/account.ts';

/**
 * How far the looks have read: modifyTimestamp has a resolution of one second, so the entries seen
 * at the newest stamp are remembered, and the next look asks `>=` that stamp without reporting them
 * again.
 */
export interface ChangeMark {
  stamp: string;
  dns: ReadonlySet<string>;
}

export interface Stamped {
  dn: string;
  stamp: string;
  kind: AccountKind;
  name: string;
}

/** The entries that are new since `mark`, and the mark after them. */
export function advanceMark(mark: ChangeMark, found: Stamped[]): { fresh: Stamped[]; mark: ChangeMark } {
  const fresh = found.filter((e) => e.stamp > mark.stamp || (e.stamp === mark.stamp && !mark.dns.has(e.dn)));
  const newest = found.reduce((m, e) => (e.stamp > m ? e.stamp : m), mark.stamp);
  const atNewest = found.filter((e) => e.stamp === newest).map((e) => e.dn);
  // Entries already remembered at an unchanged stamp stay remembered.
  const dns = newest === mark.stamp ? new Set([...mark.dns, ...atNewest]) : new Set(atNewest);
  return { fresh, mark: { stamp: newest, dns } };
}

/** Members added to the admin group are admin changes; members taken out are removals (`left`). */
export function membershipChanges(
  before: ReadonlySet<string> | undefined,
  after: ReadonlySet<string>,
): ChangedEntry[] {
  if (!before) return [];
  const added = [...after]
    .filter((m) => !before.has(m))
    .map((name): ChangedEntry => ({ kind: 'admin', name }));
  const left = [...before]
    .filter((m) => !after.has(m))
    .map((name): ChangedEntry => ({ kind: 'admin', name, left: true }));
  return [...added, ...left];
}

/** One change per account, a removal winning over a modification of the same account. */
export function distinctChanges(changes: ChangedEntry[]): ChangedEntry[] {
  const byKey = new Map<string, ChangedEntry>();
  for (const c of changes) {
    const key = `${c.kind}/${c.name}`;
    if (!byKey.get(key)?.left) byKey.set(key, c);
  }
  return [...byKey.values()];
}

/** `<project>.<tool>` → `<tool>`; anything else is not this project's tool. */
export function toolNameOfCn(cn: string, project: string): string | undefined {
  const prefix = `${project}.`;
  return cn.startsWith(prefix) && cn.length > prefix.length ? cn.slice(prefix.length) : undefined;
}
