import { describe, expect, it } from '@jest/globals';
import type { Revocation } from '../cluster/ledger.ts';
import { HttpError } from './errors.ts';
import { encodeCursor, feedPage } from './revocations.ts';

const at = (s: number): Date => new Date(Date.UTC(2026, 5, 1, 0, 0, s));
const entry = (serial: string, s: number): Revocation => ({
  serial,
  fingerprint: `fp-${serial}`,
  kind: 'tool',
  account: 'web',
  epoch: 1,
  actor: 'boss',
  reason: 'leaked',
  time: at(s),
  notAfter: at(s + 3600),
});

/** Reads the whole feed page by page, as a consumer would. */
function drain(ledger: Revocation[], since: string, limit: number): { serials: string[]; cursor: string } {
  const serials: string[] = [];
  let cursor = since;
  for (;;) {
    const page = feedPage(ledger, cursor, limit);
    serials.push(...page.items.map((i) => i.serial));
    cursor = page.cursor;
    if (!page.more) return { serials, cursor };
  }
}

describe('feedPage: the revocations feed', () => {
  const ledger = [entry('0c', 3), entry('0a', 1), entry('0b', 1), entry('0d', 7)];

  it('gives every entry once, oldest first, ties by serial, in pages', () => {
    expect(drain(ledger, '', 3).serials).toEqual(['0a', '0b', '0c', '0d']);
    expect(drain(ledger, '', 1).serials).toEqual(['0a', '0b', '0c', '0d']);
  });

  it('starts after the cursor, and keeps it when nothing is new', () => {
    const first = feedPage(ledger, '', 2);
    expect(first).toMatchObject({ more: true, items: [{ serial: '0a' }, { serial: '0b' }] });
    const rest = drain(ledger, first.cursor, 10);
    expect(rest.serials).toEqual(['0c', '0d']);
    expect(feedPage(ledger, rest.cursor, 10)).toEqual({ items: [], cursor: rest.cursor, more: false });
  });

  it('is not shifted by entries pruned before the cursor, and shows entries recorded later', () => {
    const { cursor } = drain(ledger, '', 2);
    const later = [entry('0d', 7), entry('0e', 9)];
    expect(drain(later, cursor, 2).serials).toEqual(['0e']);
  });

  it('says what a service needs and nothing of the admin who revoked or why', () => {
    expect(feedPage([entry('0a', 1)], '', 1).items[0]).toEqual({
      serial: '0a',
      fingerprint: 'fp-0a',
      kind: 'tool',
      account: 'web',
      time: '2026-06-01T00:00:01.000Z',
      notAfter: '2026-06-01T01:00:01.000Z',
    });
  });

  it.each([['garbage'], [encodeCursor('not|a cursor')], [encodeCursor('2026-06-01T00:00:01.000Z|XYZ')]])(
    'refuses a cursor it did not give out: %s',
    (cursor) => {
      expect(() => feedPage(ledger, cursor, 1)).toThrow(HttpError);
    },
  );
});
