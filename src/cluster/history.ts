// An account's recent Events and its revocations, kept by two watches beside the cluster cache's, so
// that the admin API answers `GET accounts/<name>` (and authentication asks the ledger) without a
// Kubernetes request, on every replica. Compact records only: four short strings an Event, the parsed
// entry a revocation. Apart from the cache's own kinds: a broken Events watch must not stop syncs.
import type { AccountKind } from '../model/account.ts';
import { entryName, parseRevocation, type Revocation } from './ledger.ts';
import { ROLE_LABEL, stateName } from '../model/names.ts';
import { ListWatch, type KindChange, type WatchedItem, type WatchOptions } from './watch.ts';

/** An Event as `GET accounts/<name>` shows it. */
export interface HistoryEvent {
  time: string;
  reason: string;
  message: string;
}

interface EventRecord extends HistoryEvent {
  /** `<kind>/<name>` of the account it tells about. */
  account: string;
}

export interface HistoryOptions {
  /** kubeusers' own namespace: admins' Events and the ledger live there. */
  ownNamespace: string;
  /** Tool namespaces are `<prefix><tool>`. */
  namespacePrefix: string;
  /** The installation's labels (managedSelector). */
  selector: string;
}

/** The most Events shown of one account, newest first (as the listing from the cluster did). */
export const EVENTS_SHOWN = 20;

const accountKey = (kind: AccountKind, name: string): string => `${kind}/${name}`;

/** An Event's timestamps as client-node parses them, written back the way the API always showed them. */
function eventTime(item: WatchedItem): string {
  const t = item.lastTimestamp ?? item.firstTimestamp ?? item.eventTime;
  const d = typeof t === 'string' ? new Date(t) : new Date(0);
  return (Number.isNaN(d.getTime()) ? new Date(0) : d).toISOString();
}

/**
 * Which account an Event of kubeusers' tells about, as the API's reads from the cluster chose them:
 * a tool's are in its namespace; an admin's are on its state ConfigMap in kubeusers' own namespace.
 */
export function eventAccount(item: WatchedItem, o: HistoryOptions): string | undefined {
  const ns = item.metadata?.namespace ?? '';
  if (ns === o.ownNamespace) {
    const involved = (item.involvedObject as { name?: unknown } | undefined)?.name;
    const prefix = stateName('admin', '');
    if (typeof involved !== 'string' || !involved.startsWith(prefix) || involved === prefix) return undefined;
    return accountKey('admin', involved.slice(prefix.length));
  }
  if (!o.namespacePrefix || !ns.startsWith(o.namespacePrefix) || ns === o.namespacePrefix) return undefined;
  return accountKey('tool', ns.slice(o.namespacePrefix.length));
}

export function eventRecord(item: WatchedItem, o: HistoryOptions): EventRecord | undefined {
  const account = eventAccount(item, o);
  if (!account) return undefined;
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return { account, time: eventTime(item), reason: text(item.reason), message: text(item.message) };
}

const newestFirst = (a: { time: string }, b: { time: string }): number => b.time.localeCompare(a.time);

/** Records by account, kept in step with a ListWatch's changes (rebuilt whole after a list). */
class ByAccount<R> {
  readonly #of: (r: R) => string;
  #map = new Map<string, Set<R>>();

  constructor(of: (r: R) => string) {
    this.#of = of;
  }

  follow(lw: ListWatch<R>): void {
    lw.onChange((c: KindChange<R>) => {
      if (c.type === 'RELISTED') return this.#rebuild(lw.records());
      if (c.prev !== undefined) this.#drop(c.prev);
      if (c.next !== undefined) this.#add(c.next);
    });
  }

  get(account: string): R[] {
    return [...(this.#map.get(account) ?? [])];
  }

  #rebuild(records: Iterable<R>): void {
    this.#map = new Map();
    for (const r of records) this.#add(r);
  }

  #add(r: R): void {
    const key = this.#of(r);
    const set = this.#map.get(key) ?? new Set<R>();
    set.add(r);
    this.#map.set(key, set);
  }

  #drop(r: R): void {
    const key = this.#of(r);
    const set = this.#map.get(key);
    set?.delete(r);
    if (set?.size === 0) this.#map.delete(key);
  }
}

export class AccountHistory {
  readonly #ownNamespace: string;
  readonly #events: ListWatch<EventRecord>;
  readonly #ledger: ListWatch<Revocation>;
  readonly #eventsBy = new ByAccount<EventRecord>((r) => r.account);
  readonly #ledgerBy = new ByAccount<Revocation>((r) => accountKey(r.kind, r.account));

  constructor(o: HistoryOptions, w: WatchOptions) {
    this.#ownNamespace = o.ownNamespace;
    // Cluster-wide, as kubeusers writes them into every tool namespace; the apiserver filters by source.
    this.#events = new ListWatch(
      {
        kind: 'Event',
        path: '/api/v1/events',
        labelSelector: '',
        fieldSelector: 'source=kubeusers',
        record: (item) => eventRecord(item, o),
      },
      w,
    );
    this.#ledger = new ListWatch(
      {
        kind: 'revocation',
        path: `/api/v1/namespaces/${o.ownNamespace}/configmaps`,
        labelSelector: `${o.selector},${ROLE_LABEL}=revocation`,
        record: (item) => parseRevocation(item as { data?: Record<string, string> }),
      },
      w,
    );
    this.#eventsBy.follow(this.#events);
    this.#ledgerBy.follow(this.#ledger);
  }

  /** Resolves when both have listed once. */
  async start(): Promise<void> {
    await Promise.all([this.#events.start(), this.#ledger.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.#events.stop(), this.#ledger.stop()]);
  }

  /** Both listed and watching: an answer from here is as fresh as the watches. */
  synced(): boolean {
    return this.#events.synced() && this.#ledger.synced();
  }

  ledgerSynced(): boolean {
    return this.#ledger.synced();
  }

  /** The account's newest Events, at most EVENTS_SHOWN. */
  events(kind: AccountKind, name: string): HistoryEvent[] {
    return this.#eventsBy
      .get(accountKey(kind, name))
      .sort(newestFirst)
      .slice(0, EVENTS_SHOWN)
      .map(({ time, reason, message }) => ({ time, reason, message }));
  }

  /** The ledger, newest first: everything, or one kind's or one account's part. */
  revocations(filter: { kind?: AccountKind; account?: string } = {}): Revocation[] {
    const { kind, account } = filter;
    const all =
      account !== undefined && kind !== undefined
        ? this.#ledgerBy.get(accountKey(kind, account))
        : this.#ledger
            .records()
            .filter((r) => (!kind || r.kind === kind) && (account === undefined || r.account === account));
    return all.sort((a, b) => b.time.getTime() - a.time.getTime());
  }

  /** As Ledger.has: the entry for the serial, matched by serial or fingerprint. */
  revoked(serial: string, fingerprint: string): boolean {
    const r = this.#ledger.get(`${this.#ownNamespace}/${entryName(serial)}`);
    return r !== undefined && (r.serial === serial || r.fingerprint === fingerprint);
  }
}
