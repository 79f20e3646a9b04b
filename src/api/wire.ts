// Builds the admin API's dependencies from the composition root.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../config/load.ts';
import type { AccountKind } from '../model/account.ts';
import { makeClients, type Clients } from '../cluster/client.ts';
import { Ledger, type Revocation } from '../cluster/ledger.ts';
import { TokenBucket, realTicker } from '../cluster/rate-limit.ts';
import { managedSelector, ROLE_LABEL, stateName, toolNamespace } from '../model/names.ts';
import { parseState, type AccountState } from '../model/state.ts';
import type { ClusterInfo } from '../cluster/cluster-info.ts';
import type { Clock } from '../clock.ts';
import type { Settings } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { decideSettings } from '../reconcile/decide-settings.ts';
import type { EventSink } from '../cluster/events.ts';
import { readState, revoke, RevokeError, type StateWriter } from '../reconcile/revoke.ts';
import { runSync, type SyncDeps } from '../reconcile/sync.ts';
import { Authorizer } from './access-review.ts';
import { rememberedIds, type CredentialDeps } from './credential.ts';
import type { ApiDeps, AuditEntry } from './app.ts';
import { accountOrder } from './listing.ts';
import type { ClusterCache } from '../cluster/cache.ts';
import { HttpError } from './errors.ts';
import { pemCertificates, readToken, servingName, type ForwardDeps } from './forward.ts';
import { digestKey, ReviewCache } from './review-cache.ts';
import { CertificateVerifier } from './review-certs.ts';
import { cacheView, type CacheView } from './review-view.ts';
import { TokenReviewer, type TokenOutcome } from './token-review.ts';

/** What the API takes of the composition root's App (main.ts is not imported: it imports the API). */
export interface App {
  settings: Settings;
  clients: Clients;
  clusterInfo: ClusterInfo;
  actor: StateWriter;
  sync: SyncDeps;
  metrics: Pick<Metrics, 'revocations'>;
  recorder: EventSink;
  log: Logger;
  clock: Clock;
  /** The cluster cache: credential reviews answer from it (503 while it is not synced). */
  cache: ClusterCache;
}

export interface Leadership {
  writable(): { ok: true } | { ok: false; leader?: string; url?: string };
}

export const alwaysLeader: Leadership = { writable: () => ({ ok: true }) };

async function listStates(app: App): Promise<AccountState[]> {
  const ns = app.settings.kubernetes.namespace;
  const list = await app.clients.core.listNamespacedConfigMap({
    namespace: ns,
    labelSelector: `${managedSelector(ns)},${ROLE_LABEL}=state`,
  });
  return list.items
    .map(parseState)
    .filter((s): s is AccountState => s !== undefined)
    .sort(accountOrder);
}

async function audit(app: App, clients: Clients, kind: AccountKind, name: string): Promise<AuditEntry[]> {
  const own = app.settings.kubernetes.namespace;
  const namespace = kind === 'tool' ? toolNamespace(app.settings.kubernetes.namespacePrefix, name) : own;
  const fieldSelector = kind === 'tool' ? 'source=kubeusers' : `involvedObject.name=${stateName(kind, name)}`;
  const events = await clients.core
    .listNamespacedEvent({ namespace, fieldSelector })
    .catch(() => ({ items: [] }));
  return events.items
    .map((e) => ({
      time: new Date(e.lastTimestamp ?? e.firstTimestamp ?? 0).toISOString(),
      reason: e.reason ?? '',
      message: e.message ?? '',
    }))
    .sort((a, b) => b.time.localeCompare(a.time))
    .slice(0, 20);
}

/**
 * The API's own client set: TokenReviews, SubjectAccessReviews and the reads authentication needs go
 * through a rate limiter of their own with a bounded queue, under a user agent of their own, so that
 * callers of the API (strangers included) never spend the reconciler's budget.
 */
export function authClients(app: App): Clients {
  const r = app.settings.api.reviews;
  const limiter = new TokenBucket(r.qps, r.burst, realTicker, { maxWaiting: r.maxWaiting });
  const ns = app.settings.kubernetes.namespace;
  return makeClients(app.clients.kc, limiter, {
    userAgent: `kubeusers-auth/${ns}/${app.settings.leaderElection.identity ?? 'local'}`,
  });
}

/**
 * The hop to the leader (ADR 25), when a token for it is configured. Trust on the hop: the leader's
 * serving certificate, checked against api.forward.caFile (default: the serving certificate this
 * replica serves itself, every replica serving the same pair) for the name this one's carries.
 */
function forwardDeps(
  app: App,
  auth: Clients,
  cacheTtl: { positiveMs: number; negativeMs: number; maxEntries: number },
  credential: ForwardDeps['credential'],
): ForwardDeps | undefined {
  const { api } = app.settings;
  const f = api.forward;
  if (f.tokenFile === undefined || api.certFile === undefined) return undefined;
  const { tokenFile, caFile, serverName } = f;
  const certFile = api.certFile;
  // Read at every hop: the files rotate under a running daemon.
  const hop = async (): Promise<{ ca: string; serverName: string; pin?: string }> => {
    const served = await readFile(certFile, 'utf8');
    const name = serverName ?? servingName(served);
    if (!name) throw new ConfigError('api.forward.serverName is needed: api.certFile names no DNS name');
    if (caFile !== undefined) return { ca: await readFile(caFile, 'utf8'), serverName: name };
    // Every replica serves the same pair: the leader's must be this very certificate.
    const [leaf] = pemCertificates(served);
    return { ca: served, serverName: name, ...(leaf ? { pin: leaf.fingerprint256 } : {}) };
  };
  return {
    forwarders: new TokenReviewer({
      clients: auth,
      audiences: [f.audience],
      cache: new ReviewCache<TokenOutcome>(cacheTtl, app.clock, (o) => o !== null),
    }),
    ownToken: () => readToken(tokenFile),
    clientCaPem: () => clientCaPem(app),
    credential,
    clock: app.clock,
    hop,
  };
}

/**
 * The accounts' states, Events and revocations as this replica's cache holds them; a replica that is
 * not caught up cannot know.
 */
function fromMemory(cache: ClusterCache): ApiDeps['accounts'] {
  const known = (synced: boolean): void => {
    if (!synced)
      throw new HttpError(
        503,
        'not-synced',
        'this replica is not caught up with the cluster (starting, or its watch is broken); retry shortly',
      );
  };
  const states = (): void => known(cache.synced());
  const history = (): void => known(cache.history.synced());
  // Sorted once per change of the states, not once per page: shared, never changed by its readers.
  let sorted: readonly AccountState[] | undefined;
  cache.onChange((c) => {
    if (c.kind === 'state' || c.type === 'RELISTED') sorted = undefined;
  });
  return {
    list: () => Promise.resolve().then(() => (states(), (sorted ??= cache.states().sort(accountOrder)))),
    get: (kind, name) => Promise.resolve().then(() => (states(), cache.state(kind, name))),
    audit: (kind, name) => Promise.resolve().then(() => (history(), cache.history.events(kind, name))),
  };
}

/** How long an account's Events and revocations are remembered for `GET accounts/<name>`. */
const HISTORY_MS = 2_000;

/**
 * An account's recent Events and revocations, as `GET accounts/<name>` shows them beside its state
 * (which is read from memory): read on the API's own budget and remembered briefly, so that an admin
 * (or a dashboard) asking often neither waits on the cluster nor slows a sync. This replica's own
 * revocation forgets them at once.
 */
function accountHistory(app: App): {
  audit: ReviewCache<AuditEntry[]>;
  revocations: ReviewCache<Revocation[]>;
  forget: (kind: AccountKind, name: string) => void;
} {
  const ttl = { positiveMs: HISTORY_MS, negativeMs: HISTORY_MS, maxEntries: 10_000 };
  const audit = new ReviewCache<AuditEntry[]>(ttl, app.clock, () => true);
  const revocations = new ReviewCache<Revocation[]>(ttl, app.clock, () => true);
  return {
    audit,
    revocations,
    forget: (kind, name) => {
      audit.forget(digestKey(kind, name));
      revocations.forget(digestKey(kind, name));
    },
  };
}

/** How long a revocation waits for this replica's cache to show it before it is answered anyway. */
const CAUGHT_UP_MS = 5_000;

/**
 * `memory` given (the daemon, on every replica: the cluster cache), accounts are read from it, and a
 * replica whose cache is not synced answers 503 instead of a stale answer; without (one process that
 * serves the API alone, tests), they are read from the cluster. Credential reviews answer from `view`,
 * by default over the cluster cache (a one-shot command never starts it, so its reviews answer 503).
 */
export function apiDeps(
  app: App,
  leadership: Leadership = alwaysLeader,
  { memory, view = cacheView(memory ?? app.cache) }: { memory?: ClusterCache; view?: CacheView } = {},
): ApiDeps {
  const ns = app.settings.kubernetes.namespace;
  const api = app.settings.api;
  const auth = authClients(app);
  const ttl = {
    positiveMs: api.reviews.cacheSeconds * 1000,
    negativeMs: api.reviews.negativeCacheSeconds * 1000,
    maxEntries: api.reviews.cacheEntries,
  };
  const ledger = new Ledger(app.clients, ns);
  // Authentication reads the ledger on the API's own budget, never the reconciler's.
  const authLedger = new Ledger(auth, ns);
  const ledgerMemory = new ReviewCache<boolean>(
    { ...ttl, positiveMs: ttl.negativeMs },
    app.clock,
    (revoked) => !revoked,
  );
  const revokeDeps = {
    clients: app.clients,
    actor: app.actor,
    ledger,
    mutex: app.sync.mutex,
    clock: app.clock,
    log: app.log,
    ownNamespace: ns,
    decide: decideSettings(app.settings),
    onRevoked: (r: { kind: AccountKind }) => app.metrics.revocations.inc({ kind: r.kind }),
    recorder: app.recorder,
  };
  const states = memory ? fromMemory(memory) : undefined;
  const history = accountHistory(app);
  const credential: CredentialDeps = {
    instance: ns,
    ids: rememberedIds(),
    // From memory: in the daemon, this replica's cache (503 while it is not synced); elsewhere, the
    // cache when it happens to be synced, else the cluster.
    stateOf: (kind, name) =>
      states
        ? states.get(kind, name)
        : view.synced()
          ? Promise.resolve(view.state(kind, name))
          : readState(auth, ns, kind, name),
    // A caller asking often (a gateway, once per request it serves) costs one ledger read every
    // few seconds, not one per request. A kubeusers certificate in the ledger is refused at once
    // anyway: its state moved to a new epoch before the entry was written.
    isRevoked: (serial, fingerprint) =>
      memory?.history.ledgerSynced()
        ? Promise.resolve(memory.history.revoked(serial, fingerprint))
        : ledgerMemory.through(digestKey('ledger', serial, fingerprint), () =>
            authLedger.has(serial, fingerprint),
          ),
  };
  const forward = forwardDeps(app, auth, ttl, credential);
  return {
    log: app.log,
    ...(forward ? { forward } : {}),
    auth: {
      clients: auth,
      clock: app.clock,
      tokens: new TokenReviewer({
        clients: auth,
        audiences: api.audiences,
        cache: new ReviewCache<TokenOutcome>(ttl, app.clock, (o) => o !== null),
      }),
      ...credential,
    },
    authorizer: new Authorizer({
      clients: auth,
      project: app.settings.ldap.project,
      cache: new ReviewCache<boolean>(ttl, app.clock, (allowed) => allowed),
    }),
    accounts: {
      list: () => states?.list() ?? listStates(app),
      get: (kind, name) => states?.get(kind, name) ?? readState(app.clients, ns, kind, name),
      audit: (kind, name) =>
        states?.audit(kind, name) ??
        history.audit.through(digestKey(kind, name), () => audit(app, auth, kind, name)),
    },
    revocations: (filter) =>
      // From memory once the ledger's watch holds it; `GET accounts/<name>` is 503 without the Events anyway.
      memory?.history.ledgerSynced()
        ? Promise.resolve(memory.history.revocations(filter))
        : filter.account === undefined
          ? ledger.list(filter)
          : history.revocations.through(digestKey(filter.kind ?? '', filter.account), () =>
              authLedger.list(filter),
            ),
    reviews: {
      view,
      // kubeusers' certificates are signed by the kube-apiserver-client signer, whose CA is the one
      // in cluster-info on kubeadm clusters (the CA every kubeconfig kubeusers writes trusts).
      verifier: new CertificateVerifier(() => app.clusterInfo.caPem),
      instance: ns,
      project: app.settings.ldap.project,
      clock: app.clock,
    },
    revoke: async (req) => {
      try {
        const revoked = await revoke(revokeDeps, req);
        history.forget(req.kind, req.name);
        // Read your own writes: once the answer is out, this replica's reviews refuse the credential.
        if (view.synced())
          await view.caughtUp(req.kind, req.name, (s) => s.epoch > revoked.epoch, CAUGHT_UP_MS);
        return revoked;
      } catch (err) {
        if (err instanceof RevokeError)
          throw new HttpError(err.status, err.reason, err.message, { cause: err });
        throw err;
      }
    },
    renew: (kind, name) => {
      const key = `${kind}/${name}`;
      runSync(app.sync, { mode: 'sync', only: new Set([key]), force: new Set([key]) }).catch((err: unknown) =>
        app.log.error(
          { account: name, kind, action: 'renew', err: (err as Error).message },
          'renewal failed',
        ),
      );
    },
    writable: () => leadership.writable(),
    bodyLimitBytes: api.bodyLimitBytes,
    limits: {
      requestsPerMinute: api.requestsPerMinute,
      unauthenticatedRequestsPerMinute: api.unauthenticatedRequestsPerMinute,
      credentialReviewsPerMinute: api.credentialReviewsPerMinute,
    },
  };
}

export async function clientCaPem(app: App): Promise<string> {
  return app.settings.api.clientCaFile
    ? readFile(app.settings.api.clientCaFile, 'utf8')
    : app.clusterInfo.caPem;
}
