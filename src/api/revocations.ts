// The revocations feed, for services that cannot ask kubeusers per request: the ledger in the order
// entries were recorded, read in pages from a cursor the consumer keeps. The cursor names the last
// entry seen (its time and serial), not a position, so entries pruned after their certificate
// expired never shift what comes next.
import type { Revocation } from '../cluster/ledger.ts';
import { HttpError } from './errors.ts';

export interface FeedEntry {
  serial: string;
  fingerprint: string;
  kind: Revocation['kind'];
  account: string;
  time: string;
  notAfter: string | null;
}

export interface FeedPage {
  items: FeedEntry[];
  /** Where the next request starts: the last entry returned, or the cursor given when none was. */
  cursor: string;
  /** More entries follow at once: ask again with `cursor`. */
  more: boolean;
}

const keyOf = (r: Revocation): string => `${r.time.toISOString()}|${r.serial}`;

export const encodeCursor = (key: string): string => Buffer.from(key, 'utf8').toString('base64url');

/** The entry key a cursor names; '' (the beginning) for an empty one. 400 for anything else. */
export function decodeCursor(cursor: string): string {
  if (cursor === '') return '';
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{4}-\d{2}-\d{2}T[\d:.]+Z\|[0-9a-f]+$/.test(key))
    throw new HttpError(400, 'invalid-cursor', 'since: not a cursor this feed gave out');
  return key;
}

/** The page after `since`: entries ordered by (time, serial), at most `limit` of them. */
export function feedPage(ledger: readonly Revocation[], since: string, limit: number): FeedPage {
  const after = decodeCursor(since);
  const later = ledger
    .map((r) => ({ r, key: keyOf(r) }))
    .filter((e) => e.key > after)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const page = later.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(({ r }) => ({
      serial: r.serial,
      fingerprint: r.fingerprint,
      kind: r.kind,
      account: r.account,
      time: r.time.toISOString(),
      notAfter: r.notAfter?.toISOString() ?? null,
    })),
    cursor: last ? encodeCursor(last.key) : since,
    more: later.length > page.length,
  };
}
