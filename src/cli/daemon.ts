// `kubeusers run`: the ops port, the admin API, leader election, and — while leading — the sync loop
// and the renewal sweep. SIGTERM drains: the loop finishes its run, the lease is given up.
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Express } from 'express';
import { createApiApp } from '../api/app.ts';
import { createOpsApp, type Readiness } from '../api/ops.ts';
import { serveHttps } from '../api/server.ts';
import { alwaysLeader, apiDeps, clientCaPem, type Leadership } from '../api/wire.ts';
import { Ledger } from '../cluster/ledger.ts';
import { LeaderElector } from '../cluster/leader.ts';
import { ensureNamespaceOnly, ensureOwnNamespace, type App } from '../main.ts';
import { SyncLoop } from '../reconcile/loop.ts';
import { restoreForeignChanges } from '../reconcile/restore.ts';
import { accountKey } from '../model/account.ts';
import { describeError } from '../cluster/errors.ts';
import { EXIT } from './exit-codes.ts';

/** How long a draining daemon waits for queued Events (well inside the pod's termination grace). */
const EVENT_DRAIN_MS = 10_000;

function listen(app: Express, port: number, address: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, address, (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}

const close = (s: Server | HttpsServer | undefined): Promise<void> =>
  new Promise((r) => (s ? s.close(() => r()) : r()));

/** LDAP and the API server reachable, checked at most every 5 s. */
function readinessProbe(app: App, leadership: Leadership): () => Promise<Readiness> {
  let cached: { at: number; checks: Record<string, boolean> } | undefined;
  return async () => {
    if (!cached || performance.now() - cached.at > 5_000) {
      const ns = app.settings.kubernetes.namespace;
      const [apiServer, ldap] = await Promise.all([
        app.clients.core.readNamespace({ name: ns }).then(
          () => true,
          () => false,
        ),
        app.sync.directory.ping().then(
          () => true,
          () => false,
        ),
      ]);
      cached = { at: performance.now(), checks: { apiServer, ldap } };
    }
    const w = leadership.writable();
    return {
      ready: cached.checks.apiServer === true && cached.checks.ldap === true,
      checks: {
        ...cached.checks,
        leader: w.ok,
        ...('leader' in w && w.leader ? { leaderIdentity: w.leader } : {}),
      },
    };
  };
}

/** The admin API over HTTPS, its serving pair and client CA watched for rotation. */
async function serveApi(app: App, leadership: Leadership): ReturnType<typeof serveHttps> {
  const a = app.settings.api;
  return serveHttps(
    createApiApp(apiDeps(app, leadership, { memory: app.cache })),
    {
      certFile: a.certFile!,
      keyFile: a.keyFile!,
      // The cluster CA from cluster-info, unless a client CA file is set: that file is watched.
      clientCaPem: a.clientCaFile === undefined ? await clientCaPem(app) : '',
      ...(a.clientCaFile !== undefined ? { clientCaFile: a.clientCaFile } : {}),
      log: app.log,
    },
    a.port,
    a.address,
  );
}

/** Where the other replicas hand writes to this one when it leads (ADR 25); only with forwarding set up. */
function advertisedUrl(app: App, api: HttpsServer | undefined): string | undefined {
  const { host, tokenFile } = app.settings.api.forward;
  const address = api?.address();
  if (!host || !tokenFile || typeof address !== 'object' || !address) return undefined;
  return `https://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

export async function runDaemon(app: App, confirmRemovals: boolean): Promise<number> {
  const s = app.settings;
  // The lease lives in kubeusers' namespace; create it if missing, without a write when it exists
  // (a follower starting up must not write).
  const exists = await app.clients.core.readNamespace({ name: s.kubernetes.namespace }).then(
    () => true,
    () => false,
  );
  if (!exists) await ensureNamespaceOnly(app);
  let loop: SyncLoop | undefined;
  /** `still()` says whether to go on once the namespace is there (leadership may have ended meanwhile). */
  const startLoop = async (still: () => boolean = () => true): Promise<void> => {
    await ensureOwnNamespace(app);
    if (!still()) return;
    const l = new SyncLoop(app.sync, {
      intervalMs: s.sync.intervalSeconds * 1000,
      watchMs: s.sync.watchSeconds * 1000,
      renewalCron: s.sync.renewalCron,
      confirmRemovals,
    });
    const ledger = new Ledger(app.clients, s.kubernetes.namespace);
    l.onResult((mode) => {
      if (mode === 'renew') void ledger.prune(app.clock.now()).catch(() => undefined);
    });
    loop = l;
    l.start();
  };
  const stopLoop = async (): Promise<void> => {
    const l = loop;
    loop = undefined;
    await l?.stop();
  };
  const le = s.leaderElection;
  let leading = false;
  // Starting writes (the namespace, the policy): a lease renewed just past its deadline, or the API
  // going away, makes it fail while this replica still leads. It is tried again while it leads, or a
  // leader would sit without a loop until it lost the lease.
  let starting = false;
  const startWhileLeading = (): void => {
    if (!leading || loop || starting) return;
    starting = true;
    startLoop(() => leading)
      .finally(() => (starting = false))
      .catch((err: unknown) => {
        app.log.error(
          { action: 'start', err: describeError(err), retryInSeconds: le.retryPeriodSeconds },
          'could not start the sync loop; trying again while leading',
        );
        setTimeout(startWhileLeading, le.retryPeriodSeconds * 1000).unref();
      });
  };
  const elector = le.enabled
    ? new LeaderElector(
        app.clients.kc,
        {
          namespace: s.kubernetes.namespace,
          name: le.leaseName,
          identity: le.identity ?? 'kubeusers',
          leaseDurationMs: le.leaseDurationSeconds * 1000,
          renewDeadlineMs: le.renewDeadlineSeconds * 1000,
          retryPeriodMs: le.retryPeriodSeconds * 1000,
          userAgent: `kubeusers/${s.kubernetes.namespace}/${le.identity ?? 'local'}`,
        },
        app.log,
        {
          started: () => {
            app.metrics.leader.set(1);
            leading = true;
            startWhileLeading();
          },
          stopped: () => {
            app.metrics.leader.set(0);
            leading = false;
            void stopLoop();
          },
        },
      )
    : undefined;
  const leadership: Leadership = elector ?? alwaysLeader;
  app.fence.canWrite = () => leadership.writable().ok;

  const ops = await listen(
    createOpsApp({ registry: app.metrics.registry, readiness: readinessProbe(app, leadership) }),
    s.ops.port,
    s.ops.address,
  );
  const api = s.api.enabled ? await serveApi(app, leadership) : undefined;
  // Every replica keeps the cache, followers too (they answer from it); until it has listed, syncs
  // read the cluster with lists as before.
  const cacheStarted = app.cache.start().catch((err: unknown) => {
    app.log.error({ action: 'cache', err: describeError(err) }, 'the cluster cache did not start');
  });
  const stopRestoring = restoreForeignChanges({
    ...app.sync,
    cache: app.cache,
    foreign: app.cacheMetrics.foreign,
    backoff: app.cacheMetrics.restoreBackoff,
    backoffSettings: { firstDelayMs: 1000, maxDelayMs: app.settings.sync.intervalSeconds * 1000 },
    sync: (account) =>
      loop?.trigger({ mode: 'sync', only: new Set([accountKey(account.kind, account.name)]) }),
  });
  if (elector) {
    elector.advertise(advertisedUrl(app, api));
    elector.start();
  } else {
    app.metrics.leader.set(1);
    await startLoop();
  }
  app.log.info(
    { action: 'start', ops: ops.address(), api: api?.address(), identity: le.identity },
    'kubeusers running',
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      app.log.info({ action: 'stop', signal }, 'draining');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await stopLoop();
  await elector?.stop();
  stopRestoring();
  await app.cache.stop();
  await cacheStarted;
  // What was done is recorded: queued Events get a bounded wait before the process ends.
  const undelivered = await app.recorder.flush(EVENT_DRAIN_MS);
  if (undelivered > 0)
    app.log.warn({ action: 'event', undelivered }, 'stopping with events the API server did not take');
  await close(api);
  await close(ops);
  app.log.info({ action: 'stop' }, 'stopped');
  return EXIT.ok;
}
