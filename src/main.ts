// The composition root: reads config once, builds every dependency, and hands them to the commands.
import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import { ClusterCache } from './cluster/cache.ts';
import { cacheMetrics, type CacheMetrics } from './cluster/cache-metrics.ts';
import { makeClients, type Clients } from './cluster/client.ts';
import { loadKubeAccess, type KubeAccess } from './cluster/kubeconfig.ts';
import { readClusterInfo, type ClusterInfo } from './cluster/cluster-info.ts';
import { EventRecorder } from './cluster/events.ts';
import { applyObject, createIfMissing } from './cluster/objects.ts';
import { podIdentityPolicy } from './model/pod-identity.ts';
import { INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './model/names.ts';
import { TokenBucket } from './cluster/rate-limit.ts';
import { readSecret, secretFromText, type Settings } from './config/load.ts';
import { watchedCaBundle, WatchedFiles } from './config/watched-file.ts';
import { fixed, LdapDirectory, type LdapDirectoryOptions, type Rotating } from './directory/ldap.ts';
import { plaintextServers } from './directory/transport.ts';
import { SafeHomes } from './homes/homes.ts';
import { makeLogger, type Logger } from './log.ts';
import { Metrics } from './metrics/metrics.ts';
import { Actor, type ActEvents } from './reconcile/act.ts';
import { decideSettings } from './reconcile/decide-settings.ts';
import { KeyedMutex } from './reconcile/pool.ts';
import type { SyncDeps } from './reconcile/sync.ts';
import { DesiredMemo } from './model/desired.ts';

/** Leader election sets this; until then (and without election) every write may go. */
export interface Fence {
  canWrite: () => boolean;
}

export interface App {
  fence: Fence;
  /** Every Event goes through it: queued, retried across an API outage, bounded. */
  recorder: EventRecorder;
  metrics: Metrics;
  settings: Settings;
  clients: Clients;
  clusterInfo: ClusterInfo;
  /** kubeusers' objects in memory (ADR 21): started by the daemon on every replica, not by one-shot commands. */
  cache: ClusterCache;
  cacheMetrics: CacheMetrics;
  actor: Actor;
  sync: SyncDeps;
  log: Logger;
  clock: Clock;
}

export interface AppOptions {
  log?: Logger;
  clock?: Clock;
  events?: ActEvents;
  onRequest?: (method: string, url: string) => void;
  point?: (name: string) => void;
  /**
   * The daemon: state kept across syncs (the desired digests, ADR 27) is built only for a process
   * that syncs again; a one-shot would pay for it once and use it once.
   */
  resident?: boolean;
}

/** The kubeconfig file when one is set, else the pod's service account; a weakened TLS is said. */
export function loadKubeConfig(settings: Settings, log?: Logger): Promise<KubeAccess> {
  return loadKubeAccess(settings.kubernetes.kubeconfig || undefined, {
    warn: (message) => log?.warn({ setting: 'kubernetes.kubeconfig' }, message),
  });
}

export { decideSettings };

/**
 * The bind password: from the environment, fixed; from a file, kept current by a watch on it (a
 * rotated password needs no restart).
 */
async function bindPassword(settings: Settings, log: Logger): Promise<Rotating<string>> {
  const ref = settings.ldap.bindPassword;
  if (ref.file === undefined) return fixed(await readSecret(ref));
  const file = ref.file;
  return WatchedFiles.open({
    files: [file],
    setting: 'ldap.bindPassword',
    parse: ([text]) => secretFromText(text!, file),
    log,
  });
}

/**
 * The directory reader, with its secrets read now (a missing file is a ConfigError before anything
 * else starts) and watched after; plaintext LDAP, when the operator allowed it, is said once in the log.
 */
export async function ldapDirectory(settings: Settings, log: Logger): Promise<LdapDirectory> {
  const ldap = settings.ldap;
  const password = await bindPassword(settings, log);
  const ca = ldap.caFile !== undefined ? await watchedCaBundle(ldap.caFile, 'ldap.caFile', log) : undefined;
  const plain = plaintextServers(ldap.servers, ldap.startTls);
  if (plain.length > 0) {
    log.warn(
      { servers: plain, setting: 'ldap.allowPlaintext' },
      'LDAP in plaintext (ldap.allowPlaintext: true): whoever can read or change this traffic can take the bind password and add admins; use ldaps:// or ldap.startTls',
    );
  }
  return new LdapDirectory(directoryOptions(settings, password, ca));
}

/** The directory reader's options from the settings, with the password and CA as read (or a test's). */
export function directoryOptions(
  settings: Settings,
  password: Rotating<string>,
  ca: Rotating<string> | undefined,
): LdapDirectoryOptions {
  const ldap = settings.ldap;
  return {
    servers: ldap.servers,
    tls: { startTls: ldap.startTls, ...(ca !== undefined ? { ca } : {}) },
    bindDn: ldap.bindDn,
    bindPassword: password,
    toolsBase: ldap.toolsBase,
    usersBase: ldap.usersBase,
    adminGroupDn: ldap.adminGroupDn,
    memberStyle: ldap.memberStyle,
    pageSize: ldap.pageSize,
    timeoutMs: ldap.timeoutSeconds * 1000,
    rules: {
      project: ldap.project,
      homesRoot: settings.homes.root,
      adminHomesRoot: settings.homes.adminRoot,
      disabledPolicyDn: ldap.disabledPolicyDn,
      attributes: ldap.attributes,
      minUidNumber: ldap.minUidNumber,
      minGidNumber: ldap.minGidNumber,
    },
  };
}

export async function buildApp(settings: Settings, opts: AppOptions = {}): Promise<App> {
  const log = opts.log ?? makeLogger(settings.log.level);
  const clock = opts.clock ?? systemClock;
  const directory = await ldapDirectory(settings, log);
  const limiter = new TokenBucket(settings.sync.qps, settings.sync.burst);
  const fence: Fence = { canWrite: () => true };
  const kc = await loadKubeConfig(settings, log);
  const userAgent = `kubeusers/${settings.kubernetes.namespace}/${settings.leaderElection.identity ?? 'local'}`;
  const onRequest = opts.onRequest ? { onRequest: opts.onRequest } : {};
  const clients = makeClients(kc, limiter, { userAgent, canWrite: () => fence.canWrite(), ...onRequest });
  // Events record what was done: they are delivered after the lease is lost too (same budget, no fence).
  const eventClients = makeClients(kc, limiter, { userAgent, ...onRequest });
  const clusterInfo = await readClusterInfo(clients, settings.kubernetes.server);
  const h = settings.homes;
  const homes = new SafeHomes(
    {
      tool: { root: h.root, credentialsDir: h.toolCredentialsDir, disabledFlag: h.disabledFlag },
      admin: { root: h.adminRoot, credentialsDir: h.adminCredentialsDir, disabledFlag: h.disabledFlag },
    },
    undefined,
    (fields, msg) => log.info({ ...fields, action: 'remove-orphans' }, msg),
  );
  const decide = decideSettings(settings);
  const metrics = new Metrics(decide.renewal, clock);
  const recorder = new EventRecorder({
    send: async (namespace, body) => {
      await eventClients.core.createNamespacedEvent({ namespace, body });
    },
    clock,
    log,
    observer: {
      queued: (n) => metrics.eventsQueued.set(n),
      dropped: (reason) => metrics.eventsDropped.inc({ reason }),
    },
  });
  const events: ActEvents = {
    saved: (s) => metrics.stateSaved(s),
    removed: (kind, name) => metrics.stateRemoved(kind, name),
    issued: (account, _state, reason, seconds) => {
      metrics.issued.inc({ kind: account.kind, reason });
      if (reason !== 'adopted') metrics.issuance.observe({ kind: account.kind }, seconds);
    },
    failed: (_account, reason) => metrics.failures.inc({ reason }),
    notYetValid: (account, source, skewSeconds) => {
      metrics.notYetValid.inc({ kind: account.kind, source });
      metrics.clockSkew.set({ source }, skewSeconds);
    },
    reverted: (kind) => metrics.tamperingReverted.inc({ kind }),
    ...opts.events,
  };
  const c = settings.certificates;
  const issue = {
    instance: settings.kubernetes.namespace,
    keyType: c.keyType,
    lifetimeSeconds: c.lifetimeSeconds,
    signTimeoutMs: c.signTimeoutSeconds * 1000,
    extraGroups: settings.rbac.extraGroups,
    clockSkewToleranceMs: c.clockSkewToleranceSeconds * 1000,
  };
  const ownNamespace = settings.kubernetes.namespace;
  const actor = new Actor({
    clients,
    homes,
    clock,
    log,
    ownNamespace,
    clusterName: settings.kubernetes.clusterName,
    clusterInfo,
    issue,
    decide,
    events,
    recorder,
    ...(opts.point ? { point: opts.point } : {}),
  });
  // The cache learns of kubeusers' own writes as they are made: a sync reads what the last one wrote.
  const cacheObserver = cacheMetrics(metrics.registry);
  const cache = new ClusterCache({
    clients,
    log,
    ownNamespace,
    namespacePrefix: settings.kubernetes.namespacePrefix,
    observer: cacheObserver,
  });
  clients.writes = cache;
  const sync: SyncDeps = {
    directory,
    clients,
    actor,
    clock,
    log,
    ownNamespace,
    decide,
    guard: settings.removalGuard,
    concurrency: settings.sync.concurrency,
    signTimeoutMs: issue.signTimeoutMs,
    mutex: new KeyedMutex(),
    metrics,
    recorder,
    cache,
    ...(opts.resident ? { desiredMemo: new DesiredMemo() } : {}),
  };
  return {
    fence,
    recorder,
    metrics,
    settings,
    clients,
    clusterInfo,
    cache,
    cacheMetrics: cacheObserver,
    actor,
    sync,
    log,
    clock,
  };
}

/** kubeusers' own namespace holds the state and the lease; it is created if missing, and the
 * pod-identity policy and its binding are applied, when configured. */
export async function ensureOwnNamespace(app: App): Promise<void> {
  await ensureNamespaceOnly(app);
  await ensurePolicy(app);
}

/** The one-shot commands skip the writes when the namespace is already there (one read, not three writes). */
export async function ensureOwnNamespaceCheaply(app: App): Promise<void> {
  const exists = await app.clients.core.readNamespace({ name: app.settings.kubernetes.namespace }).then(
    () => true,
    () => false,
  );
  if (!exists) await ensureOwnNamespace(app);
}

async function ensurePolicy(app: App): Promise<void> {
  if (app.settings.podIdentity.applyPolicy) {
    // The manifests (deploy/base, the chart) own the policy: kubeusers only creates what is missing.
    for (const o of podIdentityPolicy()) {
      if (await createIfMissing(app.clients, o))
        app.log.warn({ kind: o.kind, name: o.metadata?.name }, 'pod-identity policy was missing: created it');
    }
  }
}

export async function ensureNamespaceOnly(app: App): Promise<void> {
  await applyObject(app.clients, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: app.settings.kubernetes.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [INSTANCE_LABEL]: app.settings.kubernetes.namespace,
        'kubeusers.io/role': 'system',
      },
    },
  });
}
