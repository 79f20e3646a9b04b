// One kind kept in memory: list (paged), then watch from the list's resourceVersion with bookmarks;
// a watch that breaks, or a resourceVersion the apiserver no longer has (410 Gone), lists again.
// Only a compact record of each object is kept, never the object (ADR 9, ADR 21).
import type { Clients } from './client.ts';
import type { Logger } from '../log.ts';
import { describeError } from './errors.ts';

/** What a list or a watch event carries of an object, before it is summarised. */
export interface WatchedItem {
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: unknown;
  };
  [field: string]: unknown;
}

export interface WatchedKind<R> {
  /** A name for logs and metrics (`ConfigMap`, `RoleBinding`). */
  kind: string;
  /** The collection's path, cluster-wide or in one namespace. */
  path: string;
  labelSelector: string;
  fieldSelector?: string;
  /** The Accept header (metadata only where the content is not kubeusers'). */
  accept?: string;
  /** The record kept of an object; undefined: the object is not kept. */
  record: (item: WatchedItem) => R | undefined;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export type KindChange<R> =
  { type: WatchEventType; key: string; prev?: R; next?: R } | { type: 'RELISTED'; reason: RelistReason };

/** `start`: the first list; `gone`: 410, the resourceVersion expired; `broken`: the watch failed. */
export type RelistReason = 'start' | 'gone' | 'broken';

export interface WatchObserver {
  relisted?(kind: string, reason: RelistReason): void;
  live?(kind: string, live: boolean): void;
}

export interface WatchOptions {
  clients: Clients;
  log: Logger;
  observer?: WatchObserver;
  /** Items per list page: a list of 10,000 is parsed a page at a time. */
  pageSize?: number;
  /** How long the apiserver keeps one watch open before it ends it cleanly (resumed, not re-listed). */
  watchSeconds?: number;
  /** The longest wait between attempts after a failure. */
  maxBackoffMs?: number;
}

interface Page {
  rv: string;
  continue?: string;
}

interface WatchEvent {
  type: string;
  object: WatchedItem & Status;
}

/** How one list-and-watch went: what is due next, whether the watch worked, what broke it. */
interface Attempt {
  relist?: RelistReason;
  worked: boolean;
  err?: unknown;
}

interface Entry<R> {
  rv: string;
  record: R;
  /** Taken from kubeusers' own write: the watch's event of the same version is the truth and replaces it. */
  written?: boolean;
}

/** A Status the apiserver sends as a watch event of type ERROR, or as a list's error body. */
interface Status {
  code?: number;
}

/**
 * The wait after the first failure, doubled on each one after it. The first retry stays fast (an
 * apiserver restart is followed within a second); a watch that keeps failing while lists work (RBAC
 * without watch, a proxy cutting long requests, 429) must not re-list every half second from the
 * shared rate limiter's budget.
 */
const FIRST_BACKOFF_MS = 500;
/**
 * Each kind retries every 30 s at most while it keeps failing: 16 requests in 30 s across two
 * replicas at worst; syncs list meanwhile.
 */
const MAX_BACKOFF_MS = 30_000;
/** A watch up this long has worked: the failures before it no longer count. */
const HEALTHY_WATCH_MS = 30_000;

/** The watch's resourceVersion is older than the apiserver keeps: only a new list can go on. */
export class GoneError extends Error {
  readonly reason = 'gone';
}

/**
 * Whether an event's resourceVersion is newer than the one kept. resourceVersions are etcd revisions
 * (integers) on every apiserver kubeusers supports; one that is not is taken as newer.
 */
export function newer(event: string, kept: string | undefined): boolean {
  if (kept === undefined) return true;
  if (!/^\d+$/.test(event) || !/^\d+$/.test(kept)) return true;
  return BigInt(event) > BigInt(kept);
}

export const itemKey = (item: WatchedItem): string =>
  `${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`;

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The changes between two listings of one kind, by key. */
export function diffListings<R>(
  before: ReadonlyMap<string, Entry<R>>,
  after: ReadonlyMap<string, Entry<R>>,
): KindChange<R>[] {
  const out: KindChange<R>[] = [];
  for (const [key, e] of after) {
    const prev = before.get(key);
    if (!prev) out.push({ type: 'ADDED', key, next: e.record });
    else if (!same(prev.record, e.record))
      out.push({ type: 'MODIFIED', key, prev: prev.record, next: e.record });
  }
  for (const [key, e] of before) if (!after.has(key)) out.push({ type: 'DELETED', key, prev: e.record });
  return out;
}

/** Complete lines out of what arrived, and the part of a line still to come. */
export function splitLines(text: string): { lines: string[]; rest: string } {
  const parts = text.split('\n');
  const rest = parts.pop() ?? '';
  return { lines: parts.map((l) => l.trim()).filter(Boolean), rest };
}

export async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let rest = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const split = splitLines(rest + decoder.decode(value, { stream: true }));
      rest = split.rest;
      yield* split.lines;
    }
    if (rest.trim()) yield rest.trim();
  } finally {
    // Leaving early (a 410 event, a stop) closes the connection's stream.
    await reader.cancel().catch(() => undefined);
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export class ListWatch<R> {
  readonly #kind: WatchedKind<R>;
  readonly #o: WatchOptions;
  #entries = new Map<string, Entry<R>>();
  /** Deletions seen since the last list, so that an older event arriving late does not bring one back. */
  #tombstones = new Map<string, string>();
  #rv = '';
  #live = false;
  #listed = false;
  #stop = new AbortController();
  #listeners: ((c: KindChange<R>) => void)[] = [];
  #running: Promise<void> | undefined;

  constructor(kind: WatchedKind<R>, options: WatchOptions) {
    this.#kind = kind;
    this.#o = options;
  }

  get kind(): string {
    return this.#kind.kind;
  }

  onChange(listener: (c: KindChange<R>) => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves once the kind has listed (retrying until it does, or until `stop`). */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.#running = this.#run(resolve);
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  /** Listed since the last break and watching now. */
  synced(): boolean {
    return this.#listed && this.#live;
  }

  /** Every record, in a fresh array the caller may keep. */
  records(): R[] {
    const out: R[] = [];
    for (const e of this.#entries.values()) out.push(e.record);
    return out;
  }

  /** The records `wanted` keeps, without copying the others (a one-account sync at 10,000). */
  select(wanted: (r: R) => boolean): R[] {
    const out: R[] = [];
    for (const e of this.#entries.values()) if (wanted(e.record)) out.push(e.record);
    return out;
  }

  get(key: string): R | undefined {
    return this.#entries.get(key)?.record;
  }

  /**
   * An object as a write of kubeusers' own returned it, taken at once (the sync that follows reads
   * what it wrote, not what the watch has not delivered yet); the watch's own event for it is then
   * no change.
   */
  wrote(item: WatchedItem): void {
    this.#event('MODIFIED', item, true);
  }

  #emit(c: KindChange<R>): void {
    for (const l of this.#listeners) {
      try {
        l(c);
      } catch (err) {
        this.#o.log.error({ action: 'cache', kind: this.kind, err: String(err) }, 'a cache listener failed');
      }
    }
  }

  #setLive(live: boolean): void {
    if (this.#live === live) return;
    this.#live = live;
    this.#o.observer?.live?.(this.kind, live);
  }

  async #run(listed: () => void): Promise<void> {
    let relist: RelistReason | undefined = 'start';
    // Failures since a watch last worked: a list that works does not reset it (its watch may fail again).
    let failures = 0;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const a = await this.#attempt(relist, listed);
      if (signal.aborted) break;
      relist = a.relist;
      if (a.worked) failures = 0;
      // The apiserver's own timeout: on from the last resourceVersion, at once and without a list.
      if (a.err === undefined && relist === undefined && a.worked) continue;
      this.#setLive(false);
      // The first 410 or unproductive end is retried at once; a broken watch, and every one after, waits.
      const wait = a.err !== undefined || failures > 0;
      const ms = Math.min(
        FIRST_BACKOFF_MS * 2 ** Math.min(failures, 16),
        this.#o.maxBackoffMs ?? MAX_BACKOFF_MS,
      );
      failures++;
      if (!wait) continue;
      this.#warnRetry(a, failures, ms);
      await sleep(ms, signal);
    }
    this.#setLive(false);
  }

  #warnRetry(a: Attempt, failures: number, ms: number): void {
    const msg =
      a.err !== undefined
        ? 'watch broken; listing again'
        : a.relist
          ? 'watch gone again; listing again'
          : 'watch ended without progress; watching again';
    const err = a.err !== undefined ? { err: describeError(a.err) } : {};
    this.#o.log.warn(
      { action: 'cache', kind: this.kind, ...err, relist: a.relist, failures, retryInMs: ms },
      msg,
    );
  }

  /** A list if one is due, then one watch: what is due next, and whether the watch worked. */
  async #attempt(due: RelistReason | undefined, listed: () => void): Promise<Attempt> {
    let relist = due;
    let opened: number | undefined;
    let rv = this.#rv;
    // Up long enough, or moved on (events, bookmarks): the watch worked, whatever ended it.
    const worked = (): boolean =>
      opened !== undefined && (performance.now() - opened >= HEALTHY_WATCH_MS || this.#rv !== rv);
    try {
      if (relist !== undefined) {
        // What is held may be behind from here until the next watch is open.
        this.#setLive(false);
        await this.#relist(relist);
      }
      listed();
      relist = undefined;
      rv = this.#rv;
      opened = performance.now();
      const end = await this.#watch();
      return { ...(end === 'gone' ? { relist: 'gone' as const } : {}), worked: worked() };
    } catch (err) {
      return { relist: relist ?? (err instanceof GoneError ? 'gone' : 'broken'), worked: worked(), err };
    }
  }

  #query(extra: Record<string, string>): string {
    const q = new URLSearchParams({
      labelSelector: this.#kind.labelSelector,
      ...(this.#kind.fieldSelector ? { fieldSelector: this.#kind.fieldSelector } : {}),
      ...extra,
    });
    return `${this.#kind.path}?${q.toString()}`;
  }

  async #relist(reason: RelistReason): Promise<void> {
    const fresh = new Map<string, Entry<R>>();
    let page: Page = { rv: '' };
    do page = await this.#page(fresh, page.continue);
    while (page.continue);
    const before = this.#entries;
    // kubeusers' own writes made while the list was read stay (their events follow from the list's version).
    for (const [key, e] of before)
      if (e.written && newer(e.rv, page.rv) && newer(e.rv, fresh.get(key)?.rv)) fresh.set(key, e);
    this.#entries = fresh;
    this.#tombstones.clear();
    this.#rv = page.rv;
    this.#listed = true;
    this.#o.observer?.relisted?.(this.kind, reason);
    if (reason !== 'start') for (const c of diffListings(before, fresh)) this.#emit(c);
    this.#emit({ type: 'RELISTED', reason });
  }

  /** One page of the list, summarised into `into` while it is walked, then dropped. */
  async #page(into: Map<string, Entry<R>>, cont: string | undefined): Promise<Page> {
    const q = { limit: String(this.#o.pageSize ?? 500), ...(cont ? { continue: cont } : {}) };
    const page = (await this.#o.clients.getJson(this.#query(q), this.#kind.accept)) as {
      metadata?: { resourceVersion?: string; continue?: string };
      items?: WatchedItem[];
    };
    for (const item of page.items ?? []) {
      const record = this.#kind.record({ kind: this.#kind.kind, ...item });
      if (record !== undefined) into.set(itemKey(item), { rv: item.metadata?.resourceVersion ?? '', record });
    }
    const next = page.metadata?.continue;
    return { rv: page.metadata?.resourceVersion ?? '', ...(next ? { continue: next } : {}) };
  }

  /** One watch, until the apiserver ends it ('ended') or the resourceVersion is gone ('gone'). */
  async #watch(): Promise<'ended' | 'gone'> {
    const seconds = this.#o.watchSeconds ?? 240 + Math.floor(Math.random() * 50);
    const res = await this.#o.clients.stream(
      this.#query({
        watch: '1',
        allowWatchBookmarks: 'true',
        resourceVersion: this.#rv,
        timeoutSeconds: String(seconds),
      }),
      this.#stop.signal,
    );
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      if (res.status === 410) throw new GoneError(`watch ${this.kind}: 410 Gone`);
      throw new Error(`watch ${this.kind}: HTTP ${res.status}`);
    }
    this.#setLive(true);
    for await (const line of lines(res.body)) {
      if (this.#line(JSON.parse(line) as WatchEvent) === 'gone') return 'gone';
    }
    return 'ended';
  }

  #line(ev: WatchEvent): 'gone' | undefined {
    switch (ev.type) {
      case 'ERROR':
        if (ev.object.code === 410) return 'gone';
        throw new Error(`watch ${this.kind}: error event ${ev.object.code ?? ''}`);
      case 'BOOKMARK':
        break;
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        this.#event(ev.type, ev.object);
        break;
      default:
        return undefined;
    }
    this.#rv = ev.object.metadata?.resourceVersion ?? this.#rv;
    return undefined;
  }

  #event(type: WatchEventType, item: WatchedItem, written = false): void {
    const key = itemKey(item);
    const kept = this.#entries.get(key);
    const rv = item.metadata?.resourceVersion ?? '';
    if (!this.#news(key, kept, rv, written)) return;
    if (type === 'DELETED') this.#tombstones.set(key, rv);
    const record = type === 'DELETED' ? undefined : this.#kind.record({ kind: this.#kind.kind, ...item });
    // Deleted, or no longer readable as a record: gone from the cache.
    if (record === undefined) return this.#remove(key, kept);
    this.#tombstones.delete(key);
    this.#entries.set(key, { rv, record, ...(written ? { written } : {}) });
    if (!kept) this.#emit({ type: 'ADDED', key, next: record });
    else if (!same(kept.record, record))
      this.#emit({ type: 'MODIFIED', key, prev: kept.record, next: record });
  }

  /** Newer than what is kept; or the watch's own account of a version kubeusers' write gave first. */
  #news(key: string, kept: Entry<R> | undefined, rv: string, written: boolean): boolean {
    if (kept?.written === true && !written && rv === kept.rv) return true;
    return newer(rv, kept ? kept.rv : this.#tombstones.get(key));
  }

  #remove(key: string, kept: Entry<R> | undefined): void {
    if (!kept) return;
    this.#entries.delete(key);
    this.#emit({ type: 'DELETED', key, prev: kept.record });
  }
}
