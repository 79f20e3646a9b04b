import { describe, expect, it } from '@jest/globals';
import type { AccountState } from '../model/state.ts';
import {
  accountJson,
  accountOrder,
  accountView,
  ListingPages,
  pageStart,
  renderPage,
  type ListingQuery,
} from './listing.ts';

const st = (kind: 'tool' | 'admin', name: string): AccountState => ({ kind, name }) as AccountState;

describe('the listing order and its cursor', () => {
  const all = [st('tool', 'b'), st('admin', 'z'), st('tool', 'a-b'), st('tool', 'a0'), st('tool', 'a')].sort(
    accountOrder,
  );
  it('is kind, then name, by code unit', () => {
    expect(all.map((s) => `${s.kind}/${s.name}`)).toEqual([
      'admin/z',
      'tool/a',
      'tool/a-b',
      'tool/a0',
      'tool/b',
    ]);
  });
  const cases: [string, string, number][] = [
    ['after the first', 'admin/z', 1],
    ['after one in the middle', 'tool/a-b', 3],
    ['after one that is gone since (between two)', 'tool/a-a', 2],
    ['after the last', 'tool/b', 5],
    ['after everything', 'zzz', 5],
    ['before everything', 'a', 0],
  ];
  it.each(cases)('starts %s', (_name, after, index) => {
    expect(pageStart(all, after)).toBe(index);
  });
});

describe("an account's JSON in the listing", () => {
  const full = (mods: Partial<AccountState> = {}): AccountState =>
    ({
      kind: 'tool',
      name: 'a',
      status: 'active',
      serial: '0a1b',
      fingerprint: 'ff00',
      notAfter: new Date('2027-01-01T00:00:00Z'),
      epoch: 3,
      lastChange: new Date('2026-12-01T00:00:00Z'),
      ...mods,
    }) as AccountState;
  it.each<[string, AccountState]>([
    ['an active tool', full()],
    ['a revoked one, no certificate', full({ status: 'revoked', serial: undefined, notAfter: undefined })],
    ['one with an error', full({ status: 'error', lastError: 'signer "x" refused: "quoted"' })],
  ])('%s: the view, serialised', (_name, s) => {
    expect(JSON.parse(accountJson(s))).toEqual(accountView(s));
    expect(accountJson(s)).toBe(JSON.stringify(accountView(s)));
  });
  it('follows a state that changed (a new record)', () => {
    const before = full();
    expect(accountJson(before)).toContain('"state":"active"');
    expect(accountJson({ ...before, status: 'locked' })).toContain('"state":"locked"');
  });
});

describe("the listing's pages", () => {
  const account = (kind: 'tool' | 'admin', name: string, status = 'active'): AccountState =>
    ({ kind, name, status, epoch: 1, lastChange: new Date('2026-12-01T00:00:00Z') }) as AccountState;
  const every = [
    account('admin', 'ada'),
    ...Array.from({ length: 7 }, (_, i) => account('tool', `t${i}`, i % 3 ? 'active' : 'locked')),
  ].sort(accountOrder);
  type Page = { items: { kind: string; name: string; state: string }[]; continue?: string };
  /** Every page of a query, following the cursors: the names, page by page. */
  const walk = (list: readonly AccountState[], q: ListingQuery, pages = new ListingPages()): string[][] => {
    const seen: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = JSON.parse(pages.page(list, { ...q, continue: cursor }).toString()) as Page;
      seen.push(page.items.map((i) => `${i.kind}/${i.name}/${i.state}`));
      cursor = page.continue;
    } while (cursor && seen.length < 20);
    return seen;
  };
  // [case, query, the names page by page]
  const cases: [string, ListingQuery, string[][]][] = [
    [
      'everything, 3 a page',
      { limit: 3 },
      [
        ['admin/ada/active', 'tool/t0/locked', 'tool/t1/active'],
        ['tool/t2/active', 'tool/t3/locked', 'tool/t4/active'],
        ['tool/t5/active', 'tool/t6/locked'],
      ],
    ],
    ['exactly one page: no cursor', { limit: 8 }, [every.map((s) => `${s.kind}/${s.name}/${s.status}`)]],
    ['admins only', { kind: 'admin', limit: 3 }, [['admin/ada/active']]],
    [
      'locked tools, 2 a page',
      { kind: 'tool', state: 'locked', limit: 2 },
      [['tool/t0/locked', 'tool/t3/locked'], ['tool/t6/locked']],
    ],
    ['a state nobody is in', { state: 'error', limit: 3 }, [[]]],
  ];
  it.each(cases)('%s', (_name, q, want) => {
    expect(walk(every, q)).toEqual(want);
  });

  it('sends a kept page exactly as it would render it', () => {
    const pages = new ListingPages();
    for (const q of cases.map((c) => c[1])) {
      expect(pages.page(every, q).toString()).toBe(renderPage(every, q));
      expect(pages.page(every, q).toString()).toBe(renderPage(every, q));
    }
  });

  it('keeps a page per listing: the same array, the same page; a new array, rendered anew', () => {
    const pages = new ListingPages();
    const first = pages.page(every, { limit: 3 });
    expect(pages.page(every, { limit: 3 })).toBe(first);
    const changed = every.map((s) => (s.name === 'ada' ? account('admin', 'ada', 'revoked') : s));
    expect(pages.page(changed, { limit: 3 }).toString()).toContain('"state":"revoked"');
    expect(pages.page(every, { limit: 3 })).toBe(first);
  });

  it('keeps pages of different queries apart', () => {
    const pages = new ListingPages();
    expect(pages.page(every, { limit: 3 })).not.toEqual(pages.page(every, { limit: 2 }));
    expect(pages.page(every, { kind: 'admin', limit: 3 })).not.toEqual(pages.page(every, { limit: 3 }));
  });

  // [case, bounds as a function of one page's cost, pages asked in order, which asks rendered anew]
  const cost = (q: ListingQuery): number =>
    Buffer.byteLength(renderPage(every, q)) +
    JSON.stringify([q.kind ?? null, q.state ?? null, q.limit, q.continue ?? null]).length +
    128;
  const a: ListingQuery = { limit: 3 };
  const b: ListingQuery = { limit: 2 };
  const c: ListingQuery = { limit: 3, continue: 'bWFkZS11cA' };
  const bounds: [string, { maxBytes: number; maxPages: number }, ListingQuery[], boolean[]][] = [
    [
      'within both bounds: rendered once each',
      { maxBytes: 1e6, maxPages: 8 },
      [a, b, a, b],
      [true, true, false, false],
    ],
    [
      'past the bytes (bodies, keys, overhead): dropped',
      { maxBytes: cost(a) + cost(b) - 1, maxPages: 8 },
      [a, b, a],
      [true, true, true],
    ],
    [
      'past the pages (made-up cursors): dropped',
      { maxBytes: 1e6, maxPages: 2 },
      [a, c, b, a],
      [true, true, true, true],
    ],
  ];
  it.each(bounds)('%s, and still answers right', (_name, bound, asks, rendered) => {
    const pages = new ListingPages(bound);
    const seen: Buffer[] = [];
    const fresh = asks.map((q) => {
      const body = pages.page(every, q);
      expect(body.toString()).toBe(renderPage(every, q));
      const isNew = !seen.includes(body);
      seen.push(body);
      return isNew;
    });
    expect(fresh).toEqual(rendered);
  });
});
