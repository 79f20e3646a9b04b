// Builds the admin API's dependencies from the composition root.
import { readFile } from 'node:fs/promises';
import type { AccountKind } from '../directory/account.ts';
import { makeClients, type Clients } from '../cluster/client.ts';
import { Ledger } from '../cluster/ledger.ts';
import { TokenBucket, realTicker } from '../cluster/rate-limit.ts';
import { managedSelector, ROLE_LABEL, stateName, toolNamespace } from '../cluster/names.ts';
import { parseState, type AccountState } from '../cluster/state.ts';
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
import { rememberedIds } from './credential.ts';
import type { ApiDeps, AuditEntry } from './app.ts';
import { HttpError } from './errors.ts';
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
}

export interface Leadership {
  writable(): { ok: true } | { ok: false; leader?: string };
}

export const alwaysLeader: Leadership = { writable: () => ({ ok: true }) };

async function listStates(app: App): Promise<AccountState[]> {
  const ns = app.settings.kubernetes.namespace;
  const list = await app.clients.core.listNamespacedConfigMap({
    namespace: ns,
    labelSelector: `${managedSelector(ns)},${ROLE_LABEL}=state`,
  });
  return list.items.map(parseState).filter((s): s is AccountState => s !== undefined);
}

async function audit(app: App, kind: AccountKind, name: string): Promise<AuditEntry[]> {
  const own = app.settings.kubernetes.namespace;
  const namespace = kind === 'tool' ? toolNamespace(app.settings.kubernetes.namespacePrefix, name) : own;
  const fieldSelector = kind === 'tool' ? 'source=kubeusers' : `involvedObject.name=${stateName(kind, name)}`;
  const events = await app.clients.core
    .listNamespacedEvent({ namespace, fieldSelector })
    .catch(() => ({ items: [] }));
  return events.items
    .map((e) => ({
      time: (e.lastTimestamp ?? e.firstTimestamp ?? new Date(0)).toISOString(),
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

/** How long a revocation waits for this replica's cache to show it before it is answered anyway. */
const CAUGHT_UP_MS = 5_000;

/**
 * `view`: the accounts in memory, by default the cluster cache (a one-shot command never starts it,
 * so its reviews answer 503).
 */
export function apiDeps(
  app: App,
  leadership: Leadership = alwaysLeader,
  view: CacheView = cacheView(app.cache),
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
  return {
    log: app.log,
    auth: {
      clients: auth,
      clock: app.clock,
      tokens: new TokenReviewer({
        clients: auth,
        audiences: api.audiences,
        cache: new ReviewCache<TokenOutcome>(ttl, app.clock, (o) => o !== null),
      }),
      instance: ns,
      ids: rememberedIds(),
      // From memory when this replica's view is synced (a revocation moves the state at once there).
      stateOf: (kind, name) =>
        view.synced() ? Promise.resolve(view.state(kind, name)) : readState(auth, ns, kind, name),
      // A caller asking often (a gateway, once per request it serves) costs one ledger read every
      // few seconds, not one per request. A kubeusers certificate in the ledger is refused at once
      // anyway: its state moved to a new epoch before the entry was written.
      isRevoked: (serial, fingerprint) =>
        ledgerMemory.through(digestKey('ledger', serial, fingerprint), () =>
          authLedger.has(serial, fingerprint),
        ),
    },
    authorizer: new Authorizer({
      clients: auth,
      project: app.settings.ldap.project,
      cache: new ReviewCache<boolean>(ttl, app.clock, (allowed) => allowed),
    }),
    accounts: {
      list: () => listStates(app),
      get: (kind, name) => readState(app.clients, ns, kind, name),
      audit: (kind, name) => audit(app, kind, name),
    },
    revocations: (filter) => ledger.list(filter),
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
