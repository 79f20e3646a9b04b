// What kubeusers owns in the cluster, kept in memory from one list and one watch per kind (ADR 21):
// compact records only (parsed states, content digests, CSR names and ages), never whole objects.
// Started on every replica, followers too, so that any replica can answer from it.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AccountKind } from '../model/account.ts';
import type { Logger } from '../log.ts';
import { contentDigest } from '../model/content.ts';
import {
  indexObject,
  indexObjects,
  observe,
  observedKey,
  type ObservedObject,
  type OwnObjects,
} from '../model/observed.ts';
import type { ClusterSnapshot } from '../reconcile/gather.ts';
import type { Clients, WriteObserver } from './client.ts';
import { isForeign, type Expected } from './foreign.ts';
import { AccountHistory } from './history.ts';
import { accountKey } from '../model/account.ts';
import { ACCOUNT_LABEL, KIND_LABEL, managedSelector, ROLE_LABEL, stateName } from '../model/names.ts';
import { LEGACY_PARAMS_NAME } from '../model/pod-identity.ts';
import { parseState, type AccountState } from '../model/state.ts';
import {
  ListWatch,
  type KindChange,
  type WatchedItem,
  type WatchedKind,
  type WatchObserver,
  type WatchOptions,
} from './watch.ts';

export interface CsrRecord {
  name: string;
  created?: Date;
  account?: string;
  accountKind?: AccountKind;
}

export type CacheChangeType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'RELISTED';

export interface CacheChange {
  /** The watched kind: `state` for the state ConfigMaps, else the object's kind. */
  kind: string;
  account?: { kind: AccountKind; name: string };
  type: CacheChangeType;
  /** For the kinds whose content kubeusers owns: the object's record before and after. */
  observed?: { before?: ObservedObject; after?: ObservedObject };
  /** For `state`: the account's state before and after. */
  state?: { before?: AccountState; after?: AccountState };
}

export interface CacheOptions {
  clients: Clients;
  log: Logger;
  /** kubeusers' own namespace: the instance's name, where the state ConfigMaps live. */
  ownNamespace: string;
  /** Tool namespaces' prefix: their Events are the tools' history (default `tool-`, the schema's). */
  namespacePrefix?: string;
  observer?: WatchObserver;
  pageSize?: number;
  watchSeconds?: number;
  maxBackoffMs?: number;
}

/** Only metadata is read where the content is not kubeusers' (CSRs). */
const METADATA = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const RBAC = '/apis/rbac.authorization.k8s.io/v1';

type Account = { kind: AccountKind; name: string };

function accountOfLabels(labels: Record<string, string> | undefined): Account | undefined {
  const kind = labels?.[KIND_LABEL];
  const name = labels?.[ACCOUNT_LABEL];
  return (kind === 'tool' || kind === 'admin') && name ? { kind, name } : undefined;
}

function csrRecord(item: WatchedItem): CsrRecord {
  const md = item.metadata ?? {};
  const account = accountOfLabels(md.labels);
  return {
    name: md.name ?? '',
    ...(md.creationTimestamp ? { created: new Date(md.creationTimestamp) } : {}),
    ...(account ? { account: account.name, accountKind: account.kind } : {}),
  };
}

const observed = (
  kind: string,
  path: string,
  selector: string,
  fieldSelector?: string,
): WatchedKind<ObservedObject> => ({
  kind,
  path,
  labelSelector: selector,
  ...(fieldSelector ? { fieldSelector } : {}),
  record: (item) => observe({ ...item, kind }),
});

/** The kinds of objects kubeusers owns, as gatherCluster lists them. */
function ownedKinds(selector: string): WatchedKind<ObservedObject>[] {
  return [
    observed('Namespace', '/api/v1/namespaces', selector),
    observed('ResourceQuota', '/api/v1/resourcequotas', selector),
    observed('LimitRange', '/api/v1/limitranges', selector),
    observed('RoleBinding', `${RBAC}/rolebindings`, selector),
    observed('ClusterRoleBinding', `${RBAC}/clusterrolebindings`, selector),
    // The parameters an earlier release kept in tool namespaces; no other ConfigMap is read there.
    observed(
      'ConfigMap',
      '/api/v1/configmaps',
      `${selector},${ROLE_LABEL}=pod-identity`,
      `metadata.name=${LEGACY_PARAMS_NAME}`,
    ),
  ];
}

function refOf(o: KubernetesObject): Ref | undefined {
  const name = o.metadata?.name;
  if (!o.kind || !name) return undefined;
  return { kind: o.kind, name, ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}) };
}

type Ref = { kind: string; name: string; namespace?: string };

/**
 * What kubeusers last applied to an owned object, and whether a deletion of its own is still to be
 * seen: a delete and the apply after it (revert.ts on a roleRef change) both come before the
 * watch's DELETED, which must still be known as kubeusers' own.
 */
type Pending = { digest?: string; deleting?: true };
const refKey = (r: Ref): string => observedKey(r.kind, r.namespace, r.name);

export class ClusterCache implements WriteObserver {
  readonly #o: CacheOptions;
  readonly #states: ListWatch<AccountState>;
  readonly #owned: ListWatch<ObservedObject>[];
  /** Owned objects kubeusers wrote or deleted, until their deletion is seen: bounded by live objects. */
  readonly #expected = new Map<string, Pending>();
  readonly #csrs: ListWatch<CsrRecord>;
  /**
   * The owned objects by account, kept as the watches change them: a resync reads it as it is (at
   * 10,000 accounts, building it per sync was 10,000 maps and 60,000 keys of garbage each time) and
   * a one-account sync reads its account's part, not every object.
   */
  #byAccount = new Map<string, OwnObjects>();
  readonly #listeners = new Set<(c: CacheChange) => void>();
  /** Accounts' Events and revocations, for the admin API: not part of synced(), syncs never wait on it. */
  readonly history: AccountHistory;

  constructor(options: CacheOptions) {
    this.#o = options;
    const selector = managedSelector(options.ownNamespace);
    const w: WatchOptions = {
      clients: options.clients,
      log: options.log,
      ...(options.observer ? { observer: options.observer } : {}),
      ...(options.pageSize ? { pageSize: options.pageSize } : {}),
      ...(options.watchSeconds ? { watchSeconds: options.watchSeconds } : {}),
      ...(options.maxBackoffMs ? { maxBackoffMs: options.maxBackoffMs } : {}),
    };
    this.#states = new ListWatch(
      {
        kind: 'state',
        path: `/api/v1/namespaces/${options.ownNamespace}/configmaps`,
        labelSelector: `${selector},${ROLE_LABEL}=state`,
        record: (item) => parseState(item as Parameters<typeof parseState>[0]),
      },
      w,
    );
    this.#owned = ownedKinds(selector).map((k) => new ListWatch(k, w));
    this.#csrs = new ListWatch(
      {
        kind: 'CertificateSigningRequest',
        path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
        labelSelector: selector,
        accept: METADATA,
        record: csrRecord,
      },
      w,
    );
    this.history = new AccountHistory(
      { ownNamespace: options.ownNamespace, namespacePrefix: options.namespacePrefix ?? 'tool-', selector },
      w,
    );
    this.#states.onChange((c) => this.#emit(this.#stateChange(c)));
    for (const lw of this.#owned)
      lw.onChange((c) => {
        // Before the listeners, which may read a snapshot.
        this.#index(c);
        const change = this.#observedChange(lw.kind, c);
        this.#emit(change);
        // After the listeners, which ask foreign() of it.
        if (change.type === 'DELETED') this.#seenDeleted(change);
      });
    this.#csrs.onChange((c) => this.#emit(this.#csrChange(c)));
  }

  #all(): ListWatch<unknown>[] {
    return [this.#states, ...this.#owned, this.#csrs] as ListWatch<unknown>[];
  }

  /** Resolves when every kind has listed once. */
  async start(): Promise<void> {
    // Lists and retries on its own; the first sync does not wait for the accounts' Events.
    void this.history.start();
    await Promise.all(this.#all().map((lw) => lw.start()));
    this.#o.log.info({ action: 'cache', states: this.states().length }, 'cluster cache listed; watching');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#all().map((lw) => lw.stop()), this.history.stop()]);
  }

  /** Every kind has listed since its last break and is watching: what it holds can be decided on. */
  synced(): boolean {
    return this.#all().every((lw) => lw.synced());
  }

  /** The kinds that are not synced, for logs and readiness. */
  unsynced(): string[] {
    return this.#all()
      .filter((lw) => !lw.synced())
      .map((lw) => lw.kind);
  }

  states(): AccountState[] {
    return this.#states.records();
  }

  state(kind: AccountKind, name: string): AccountState | undefined {
    return this.#states.get(`${this.#o.ownNamespace}/${stateName(kind, name)}`);
  }

  /** What gatherCluster would return, from memory: everything, or one account's part. */
  snapshot(account?: Account): ClusterSnapshot {
    if (!account) {
      return {
        states: this.states(),
        // The accounts' maps are replaced on change, never changed: copying the outer map is enough.
        objects: new Map(this.#byAccount),
        csrs: this.#csrs.records().map(({ name, created }) => ({
          name,
          ...(created ? { created } : {}),
        })),
      };
    }
    const state = this.state(account.kind, account.name);
    const key = accountKey(account.kind, account.name);
    const own = this.#byAccount.get(key);
    return {
      states: state ? [state] : [],
      objects: new Map(own ? [[key, own]] : []),
      csrs: this.#csrs
        .select((c) => c.account === account.name && c.accountKind === account.kind)
        .map(({ name, created }) => ({ name, ...(created ? { created } : {}) })),
    };
  }

  applying(object: KubernetesObject): void {
    const ref = refOf(object);
    const lw = ref && this.#ownedKind(ref.kind);
    if (!ref || !lw) return;
    const key = refKey(ref);
    // The deleted object still held: its DELETED is yet to come.
    const deleting =
      this.#expected.get(key)?.deleting === true && lw.get(`${ref.namespace ?? ''}/${ref.name}`);
    this.#expected.set(key, { digest: contentDigest(object), ...(deleting ? { deleting: true } : {}) });
  }

  applied(object: KubernetesObject, resourceVersion: string | undefined): void {
    const ref = refOf(object);
    if (!ref) return;
    const item = {
      ...(object as WatchedItem),
      metadata: { ...object.metadata, ...(resourceVersion ? { resourceVersion } : {}) },
    } as WatchedItem;
    if (ref.kind === 'ConfigMap' && ref.namespace === this.#o.ownNamespace) this.#states.wrote(item);
    else this.#ownedKind(ref.kind)?.wrote(item);
  }

  deleting(ref: Ref): void {
    if (this.#ownedKind(ref.kind)) this.#expected.set(refKey(ref), { deleting: true });
  }

  #seenDeleted(change: CacheChange): void {
    const obj = change.observed?.before;
    if (!obj) return;
    const key = observedKey(obj.kind, obj.namespace, obj.name);
    const p = this.#expected.get(key);
    // kubeusers' own delete, seen; its apply after it is still to come.
    if (p?.deleting && p.digest !== undefined) this.#expected.set(key, { digest: p.digest });
    // A namespace kubeusers deleted keeps its mark: its objects' DELETED events, on other watches,
    // may come after its own and are kubeusers' too. applying() clears it once the namespace is gone.
    else if (!(obj.kind === 'Namespace' && p?.deleting)) this.#expected.delete(key);
  }

  /** What the change is compared with: a pending deletion for the object going, else the last apply. */
  #expectation(change: CacheChange, key: string): Expected | undefined {
    const p = this.#expected.get(key);
    if (!p) return undefined;
    const going = change.type === 'DELETED' || change.observed?.after?.terminating === true;
    if (p.deleting && (going || p.digest === undefined)) return { deleted: true };
    return p.digest !== undefined ? { digest: p.digest } : undefined;
  }

  /**
   * Whether a change of an owned object was made by someone other than kubeusers (this process):
   * its content is not what kubeusers last wrote, or it went away without kubeusers deleting it.
   */
  foreign(change: CacheChange): boolean {
    const o = change.observed;
    const obj = o?.after ?? o?.before;
    if (!o || !obj || change.type === 'RELISTED') return false;
    return isForeign(
      { type: change.type, ...o },
      this.#expectation(change, observedKey(obj.kind, obj.namespace, obj.name)),
      obj.namespace !== undefined && this.#namespaceGoing(obj.namespace),
    );
  }

  /** Deleted by kubeusers, or terminating: the objects in it go with it. */
  #namespaceGoing(ns: string): boolean {
    const deleting = this.#expected.get(observedKey('Namespace', undefined, ns))?.deleting === true;
    return deleting || this.#ownedKind('Namespace')?.get(`/${ns}`)?.terminating === true;
  }

  #index(c: KindChange<ObservedObject>): void {
    if (c.type === 'RELISTED') {
      // Rare (a start, a broken watch): built again from every kind rather than patched.
      this.#byAccount = indexObjects(this.#owned.flatMap((lw) => lw.records()));
      return;
    }
    if (c.prev) indexObject(this.#byAccount, c.prev, false);
    if (c.next) indexObject(this.#byAccount, c.next, true);
  }

  #ownedKind(kind: string): ListWatch<ObservedObject> | undefined {
    return this.#owned.find((lw) => lw.kind === kind);
  }

  onChange(listener: (change: CacheChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(c: CacheChange): void {
    for (const l of this.#listeners) {
      try {
        l(c);
      } catch (err) {
        this.#o.log.error({ action: 'cache', kind: c.kind, err: String(err) }, 'a cache listener failed');
      }
    }
  }

  #stateChange(c: KindChange<AccountState>): CacheChange {
    if (c.type === 'RELISTED') return { kind: 'state', type: 'RELISTED' };
    const s = c.next ?? c.prev;
    return {
      kind: 'state',
      type: c.type,
      ...(s ? { account: { kind: s.kind, name: s.name } } : {}),
      state: { ...(c.prev ? { before: c.prev } : {}), ...(c.next ? { after: c.next } : {}) },
    };
  }

  #observedChange(kind: string, c: KindChange<ObservedObject>): CacheChange {
    if (c.type === 'RELISTED') return { kind, type: 'RELISTED' };
    const account = c.next?.account ?? c.prev?.account;
    return {
      kind,
      type: c.type,
      ...(account ? { account } : {}),
      observed: { ...(c.prev ? { before: c.prev } : {}), ...(c.next ? { after: c.next } : {}) },
    };
  }

  #csrChange(c: KindChange<CsrRecord>): CacheChange {
    const kind = 'CertificateSigningRequest';
    if (c.type === 'RELISTED') return { kind, type: 'RELISTED' };
    const r = c.next ?? c.prev;
    return {
      kind,
      type: c.type,
      ...(r?.account && r.accountKind ? { account: { kind: r.accountKind, name: r.account } } : {}),
    };
  }
}
