// npm run bench [-- --quick]: kubeusers against the real control plane, with the cluster's own signing
// rate as the yardstick. Writes bench/results/<date>.json and bench/results/latest.md. Asserts no timing.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { pinnedVersions } from '../test/env/binaries.ts';
import { DirectoryFixture } from '../test/env/directory.ts';
import { startEnvironment, type EnvInfo } from '../test/env/environment.ts';
import { kubectl } from '../test/env/index.ts';
import { generatedTools } from '../test/env/ldif.ts';
import { shippedNodeFlags } from '../test/env/shipped.ts';
import { daemonSettings, writeApiServingPair, type DaemonPorts } from '../test/env/daemon-config.ts';
import { freePort, waitUntil } from '../test/env/proc.ts';
import { apiTarget } from '../src/cli/api-client.ts';
import { parseConfig, type Settings } from '../src/config/load.ts';
import { signerFloor } from './floor.ts';
import { underFlood } from './flood.ts';
import { audited, auditOffset, peakRate, percentile, round, timed } from './measure.ts';
import {
  daemonRequests,
  daemonUsage,
  peakRss,
  scrapeCost,
  startDaemon,
  stopDaemon,
  syncMetrics,
  ticksOf,
} from './daemon.ts';
import { gatewayDenies } from './gateway.ts';
import { restoreLatency } from './restore.ts';
import {
  accountReads,
  credentialReviews,
  fullListing,
  periodicResync,
  RESYNC_INTERVAL_S,
  type Caller,
  type ResyncContext,
} from './resync.ts';
import type { Scenario } from './scenario.ts';
import type { Probe } from './credential.ts';
import { newToolLatency, revokeLatency } from './latency.ts';

const repo = join(import.meta.dirname, '..');
// The built JavaScript, as the image runs it.
const cli = join(repo, 'dist', 'cli', 'index.js');
// Node's flags as the shipped command has them (its shebang, the image's entrypoint).
const node = [...shippedNodeFlags(), cli];
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    repeats: { type: 'string' },
    // One size only, for trying the benchmark itself; results then go to bench/results/try-<n>.*.
    n: { type: 'string' },
    // With --n: only the syncs up to the flood scenario (to measure the admin API's effect on a sync).
    'flood-only': { type: 'boolean', default: false },
    // With --n: only up to the new-tool and revoke rows (to compare latency changes quickly).
    'latency-only': { type: 'boolean', default: false },
    // With --n: the cold run, then only the resyncing daemon's rows (resync, reviews, admin reads,
    // listing, gateway) at full-mode lengths, to compare the admin API's figures quickly.
    'reads-only': { type: 'boolean', default: false },
    // The resyncing daemon under V8's CPU profiler: its .cpuprofile is left in this directory.
    'cpu-prof': { type: 'string' },
    // N = 30,000 alone (about two hours), past a single cluster's guidance of about 10,000
    // namespaces; results go to bench/results/<date>-30000.json and latest-30000.md.
    large: { type: 'boolean', default: false },
  },
});
const floodOnly = values['flood-only'] === true;
const latencyOnly = values['latency-only'] === true;
const readsOnly = values['reads-only'] === true;
/** A stranger's flood of the admin API: bad tokens a second, from this many loopback addresses. */
const FLOOD = { perSecond: 1_000, addresses: 100 };
const LARGE = 30_000;
const sizes = values.n
  ? [Number(values.n)]
  : values.large
    ? [LARGE]
    : values.quick
      ? [100, 1_000]
      : [1_000, 10_000];
const mode = values.n ? 'try' : values.large ? 'large' : values.quick ? 'quick' : 'full';
const repeats = Number(values.repeats ?? (values.quick ? 20 : 50));
/** Quick and try modes check that each scenario works: shorter loads, fewer runs. */
const light = values.quick || values.n !== undefined;
const restoreRepeats = light ? Math.min(repeats, 10) : repeats;

const scenarios: Scenario[] = [];
/** The settings of the default configuration, as kubeusers parsed them (defaults filled in). */
let used: Settings | undefined;
let defaults: Settings | undefined;
const flags: Record<string, string[]> = {};

function writeConfig(
  env: EnvInfo,
  dir: string,
  ports: DaemonPorts,
  extra: Record<string, unknown> = {},
): string {
  const tls = { certFile: join(dir, 'api.crt'), keyFile: join(dir, 'api.key') };
  const base = daemonSettings(env, 'bench', ports, tls);
  const api = { ...(base.api as Record<string, unknown>), ...(extra.api as Record<string, unknown>) };
  const settings = { ...base, log: { level: 'warn' }, ...extra, api };
  const file = join(dir, `kubeusers-${Object.keys(extra).join('-') || 'default'}.yaml`);
  writeFileSync(file, stringify(settings), { mode: 0o600 });
  used = parseConfig(file, settings);
  return file;
}

async function kubectlWorks(env: EnvInfo, home: string): Promise<boolean> {
  return (await kubectl(join(home, '.kube', 'config'), ['get', 'configmaps'], env)).code === 0;
}

const tool = (i: number): string => `b-${String(i).padStart(5, '0')}`;

/**
 * One no-op sync inside the running daemon, started at once by a harmless change to one entry (the
 * directory watch), timed by the daemon's own histogram, its CPU from /proc, its requests from the
 * audit log (lease renewals aside). While the sync lists, its end is watched in the audit log, not
 * by scraping /metrics, which costs the daemon CPU of its own (each scrape renders three gauges per
 * account); the few scrapes made are measured and taken off. A sync that lists nothing (served from
 * the watch-fed cache, or one account's) is given a second before the scrapes start.
 */
async function daemonSync(
  pid: number,
  opsPort: number,
  audit: string,
  env: EnvInfo,
): Promise<Pick<Scenario, 'wall_s' | 'cpu_s' | 'api_requests'>> {
  const ticks = () => ticksOf(pid);
  const scrape = await scrapeCost(pid, opsPort);
  // A touched entry starts a one-account sync (issue 15); a full one may come around it too.
  const modes = ['sync', 'one'] as const;
  const before = await syncMetrics(opsPort, modes);
  const offset = auditOffset(audit);
  const lists = () => audited(audit, offset, 'kubeusers/').filter((e) => e.verb === 'list').length;
  const start = ticks();
  const ldap = new DirectoryFixture(env.ldap);
  await ldap.replaceAttribute(ldap.toolDn('b-00001'), 'description', [`touched ${Date.now()}`]);
  const touched = performance.now();
  await waitUntil(
    "the sync's lists",
    () => Promise.resolve(lists() >= 8 || performance.now() - touched > 1_000),
    { timeoutMs: 300_000 },
  );
  let scrapes = 0;
  let after = before;
  await waitUntil(
    'the sync',
    async () => {
      await new Promise((r) => setTimeout(r, 500));
      after = await syncMetrics(opsPort, modes);
      scrapes++;
      return after.runs > before.runs;
    },
    { timeoutMs: 300_000 },
  );
  return {
    wall_s: round(after.seconds - before.seconds),
    cpu_s: round((ticks() - start - scrapes * scrape) / 100),
    api_requests: daemonRequests(audit, offset),
  };
}

async function forN(n: number): Promise<void> {
  console.log(`\n== N = ${n}`);
  const started = await startEnvironment({
    seed: {
      tools: generatedTools(n, { prefix: 'b', firstUid: 100_000 }),
      admins: [{ user: 'benchadmin', uidNumber: 90_000 }],
    },
  });
  try {
    await scenariosFor(n, started.info);
  } finally {
    await started.stop();
  }
}

/** The cold run: every account provisioned by one `sync --once`, a sample checked with kubectl. */
async function coldRun(n: number, env: EnvInfo, config: string, floor: number): Promise<void> {
  const audit = env.kube.auditLog;
  const agent = 'kubeusers/kubeusers/';
  const offset = auditOffset(audit);
  const cold = await timed(process.execPath, [...node, '--config', config, 'sync', '--once']);
  if (cold.code !== 0) throw new Error(`cold sync failed (${cold.code}): ${cold.stderr.slice(0, 500)}`);
  const sample = [1, Math.ceil(n / 2), n].map((i) => join(env.homesRoot, tool(i)));
  for (const home of sample)
    if (!(await kubectlWorks(env, home))) throw new Error(`no working kubeconfig in ${home}`);
  scenarios.push({
    name: 'cold',
    n,
    wall_s: round(cold.wall_s),
    cpu_s: round(cold.cpu_s),
    rss_mb: round(cold.rss_mb, 0),
    api_requests: audited(audit, offset, agent).length,
    floor_s: round(floor),
    ratio_to_floor: round(cold.wall_s / floor),
  });
  console.log(`cold: ${cold.wall_s.toFixed(1)} s (${(cold.wall_s / floor).toFixed(2)} × floor)`);
}

/** The one-shot rows: the cold run, then `sync --once` and `renew --once` with nothing to do. */
async function oneShotRows(n: number, env: EnvInfo, config: string, floor: number): Promise<void> {
  const audit = env.kube.auditLog;
  await coldRun(n, env, config, floor);

  await oneShot(n, config, 'sync', audit);
  await oneShot(n, config, 'renew', audit);
  // As docs/operations.md advises for one-shots from cron: Node's compile cache in a directory of
  // its own, filled by one run first (not measured).
  const cache = { NODE_COMPILE_CACHE: join(dirname(config), 'compile-cache') };
  await timed(process.execPath, [...node, '--config', config, 'sync', '--once'], cache);
  await oneShot(n, config, 'sync', audit, cache);
  await oneShot(n, config, 'renew', audit, cache);
}

async function scenariosFor(n: number, env: EnvInfo): Promise<void> {
  const dir = mkdtempSync(join(env.dir, 'bench-'));
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(env.kube.adminKubeconfig);
  flags.apiserver = env.kube.flags.apiserver;
  flags.controllerManager = env.kube.flags.controllerManager;
  for (const f of [
    'clusterrole-tool.yaml',
    'clusterrole-admin-impersonate.yaml',
    'clusterrole-api-admin.yaml',
  ]) {
    await kubectl(
      env.kube.adminKubeconfig,
      ['apply', '--server-side', '-f', join(repo, 'deploy', 'base', f)],
      env,
    );
  }
  await writeApiServingPair(env, dir);
  const ports = { ops: await freePort(), api: await freePort() };
  const config = writeConfig(env, dir, ports);
  defaults = used;
  const { qps, burst } = defaults!.sync;
  const agent = 'kubeusers/kubeusers/';
  const audit = env.kube.auditLog;

  if (readsOnly) {
    await coldRun(n, env, config, NaN);
    await resyncScenarios(n, env, dir, ports);
    return;
  }
  const floor = floodOnly ? NaN : await signerFloor(admin, n);
  scenarios.push({ name: 'signer-floor', n, wall_s: round(floor), floor_s: round(floor) });
  console.log(`signer-floor: ${floor.toFixed(1)} s`);

  await oneShotRows(n, env, config, floor);

  // The daemon, at default settings, for the latency scenarios. Its first sync finds everything up
  // to date, and so does the one measured next: its peak RSS after both is the memory scenario.
  const daemon: ChildProcess = await startDaemon(node, config, ports.ops);
  try {
    const sync = await daemonSync(daemon.pid!, ports.ops, audit, env);
    scenarios.push({ name: 'noop', n, ...sync });
    // The memory row is the daemon's peak after its first sync and this one, as the results README
    // defines it; the flood below is an attack's peak, not the steady state (it adds ~80 MB at 1,000).
    const steadyPeak = peakRss(daemon.pid!);
    console.log(`noop (daemon): ${sync.wall_s} s, ${sync.cpu_s} s CPU, ${sync.api_requests} requests`);
    // The same sync while strangers send the admin API bad tokens: its duration must not move, and
    // its requests (the reconciler's client only) must not include a single TokenReview.
    const caPem = readFileSync(env.kube.caFile, 'utf8');
    const url = `https://127.0.0.1:${ports.api}`;
    const flooded = await underFlood({ url, caPem, ...FLOOD }, audit, () =>
      daemonSync(daemon.pid!, ports.ops, audit, env),
    );
    scenarios.push({
      name: 'noop-under-flood',
      n,
      ...flooded.result,
      flood_rps: round(flooded.flood.sent / flooded.flood.seconds, 0),
      token_reviews: flooded.tokenReviews,
    });
    console.log(
      `noop under a flood of ${FLOOD.perSecond} bad tokens/s: ${flooded.result.wall_s} s, ${flooded.result.api_requests} requests; ${flooded.tokenReviews} TokenReviews; ${flooded.flood.sent} sent in ${flooded.flood.seconds.toFixed(1)} s, ${flooded.flood.skipped} skipped (${FLOOD.perSecond}/s wanted), answers ${JSON.stringify(flooded.flood.statuses)}`,
    );
    if (floodOnly) return;
    const baseline = await timed(process.execPath, [
      ...shippedNodeFlags(),
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(join(repo, 'dist', 'main.js'))})`,
    ]);
    scenarios.push({
      name: 'memory',
      n,
      rss_mb: round(steadyPeak, 0),
      baseline_rss_mb: round(baseline.rss_mb, 0),
    });
    console.log(
      `memory: daemon peak ${steadyPeak.toFixed(0)} MB (${peakRss(daemon.pid!).toFixed(0)} MB after the flood); modules alone ${baseline.rss_mb.toFixed(0)} MB`,
    );
    const probe = (name: string): Probe => ({
      server: env.kube.server,
      ca: caPem,
      namespace: `${defaults!.kubernetes.namespacePrefix}${name}`,
    });
    const works = (home: string) => kubectlWorks(env, home);
    let usage = daemonUsage(daemon.pid!, audit);
    const newTool = await newToolLatency({ env, repeats, probe, kubectlWorks: works });
    scenarios.push({
      name: 'new-tool',
      n,
      ...usage(),
      p50_s: round(percentile(newTool, 50)),
      p99_s: round(percentile(newTool, 99)),
    });
    console.log(
      `new-tool: p50 ${percentile(newTool, 50).toFixed(2)} s, p99 ${percentile(newTool, 99).toFixed(2)} s`,
    );

    const target = await apiTarget({
      api: `https://127.0.0.1:${ports.api}`,
      apiCa: env.kube.caFile,
      kubeconfig: join(env.adminHomesRoot, 'benchadmin', '.kube', 'config'),
    });
    usage = daemonUsage(daemon.pid!, audit);
    const revoke = await revokeLatency({ env, repeats, probe, kubectlWorks: works }, target, dir, tool);
    scenarios.push({
      name: 'revoke',
      n,
      ...usage(),
      p50_s: round(percentile(revoke, 50), 3),
      p99_s: round(percentile(revoke, 99), 3),
    });
    console.log(
      `revoke: p50 ${percentile(revoke, 50).toFixed(3)} s, p99 ${percentile(revoke, 99).toFixed(3)} s`,
    );
    if (latencyOnly) return;
    report(
      await restoreLatency({
        n,
        env,
        opsPort: ports.ops,
        repeats: restoreRepeats,
        toolName: (i) => tool(i + 1),
      }),
    );
  } finally {
    await stopDaemon(daemon);
  }
  await resyncScenarios(n, env, dir, ports);

  // Every certificate due at once: a configuration that renews 26 s into a 30-day lifetime.
  const stormConfig = writeConfig(env, dir, ports, {
    certificates: { renewFraction: 0.00001, jitterFraction: 0 },
  });
  const offset = auditOffset(audit);
  const storm = await timed(process.execPath, [...node, '--config', stormConfig, 'renew', '--once']);
  const renewed = storm.stdout.split('\n').filter((l) => l.includes('issue a certificate')).length;
  if (storm.code !== 0 || renewed < n)
    throw new Error(
      `renewal storm renewed ${renewed} of ${n} (exit ${storm.code}): ${storm.stderr.slice(0, 500)}`,
    );
  const stormRequests = audited(audit, offset, agent);
  scenarios.push({
    name: 'renewal-storm',
    n,
    wall_s: round(storm.wall_s),
    cpu_s: round(storm.cpu_s),
    rss_mb: round(storm.rss_mb, 0),
    api_requests: stormRequests.length,
    peak_rps: peakRate(stormRequests),
    configured_qps: qps,
    // A token bucket admits at most its burst plus one second of its rate in any one-second window.
    allowed_peak_rps: qps + burst,
    floor_s: round(floor),
    ratio_to_floor: round(storm.wall_s / floor),
  });
  console.log(
    `renewal-storm: ${storm.wall_s.toFixed(1)} s, peak ${peakRate(stormRequests)} requests/s (limit ${qps}/s, burst ${burst})`,
  );
}

/** Adds a row and says it on the console. */
function report(s: Scenario): void {
  scenarios.push(s);
  const { name, n: size, ...figures } = s;
  console.log(`${name} (N = ${size}): ${JSON.stringify(figures)}`);
}

/** A one-shot `sync --once` or `renew --once` with nothing to do: Node's start-up included. */
/** `sync --once` or `renew --once` with nothing to do: rows noop-cli and noop-renew-cli (-cached). */
async function oneShot(
  n: number,
  config: string,
  command: 'sync' | 'renew',
  audit: string,
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  const offset = auditOffset(audit);
  const r = await timed(process.execPath, [...node, '--config', config, command, '--once'], env);
  if (r.code !== 0) throw new Error(`${command} --once failed (${r.code}): ${r.stderr.slice(0, 500)}`);
  const cached = env.NODE_COMPILE_CACHE ? '-cached' : '';
  report({
    name: `noop-${command === 'sync' ? '' : `${command}-`}cli${cached}`,
    n,
    wall_s: round(r.wall_s),
    cpu_s: round(r.cpu_s),
    rss_mb: round(r.rss_mb, 0),
    api_requests: audited(audit, offset, 'kubeusers/kubeusers/').length,
  });
}

/**
 * A second daemon whose full sync comes every second (its own Lease, so that it leads at once): the
 * periodic resync with nothing changed, then the admin API's reads and credential reviews while
 * those syncs run.
 */
async function resyncScenarios(n: number, env: EnvInfo, dir: string, ports: DaemonPorts): Promise<void> {
  const config = writeConfig(env, dir, ports, {
    sync: { intervalSeconds: RESYNC_INTERVAL_S, renewalCron: '0 0 1 1 *' },
    leaderElection: { leaseName: 'kubeusers-bench-resync' },
    // admin-get measures one admin's reads at up to thousands a second: its allowance (600 a minute
    // by default, per caller) would measure the limiter, which answers 429 at once, not the reads.
    api: { requestsPerMinute: 1_000_000 },
  });
  const profiled = values['cpu-prof'];
  const flagged = profiled ? ['--cpu-prof', `--cpu-prof-dir=${profiled}`, ...node] : node;
  const daemon = await startDaemon(flagged, config, ports.ops);
  try {
    const c: ResyncContext = {
      n,
      pid: daemon.pid!,
      opsPort: ports.ops,
      audit: env.kube.auditLog,
      seconds: light && !readsOnly ? 3 : 20,
      runs: light && !readsOnly ? 3 : 10,
      connections: 4,
    };
    const resync = await periodicResync(c);
    report(resync);
    const url = `https://127.0.0.1:${ports.api}`;
    const ca = readFileSync(env.kube.caFile, 'utf8');
    const caller = async (kubeconfig: string): Promise<Caller> => ({
      ...(await apiTarget({ api: url, apiCa: env.kube.caFile, kubeconfig })),
      url,
      ca,
    });
    // The gateway is played by the cluster admin (any SubjectAccessReview allows it), the admin
    // reading accounts by an admin of the directory with kubeusers' own credentials.
    const gateway = await caller(env.kube.adminKubeconfig);
    const admin = await caller(join(env.adminHomesRoot, 'benchadmin', '.kube', 'config'));
    const certPem = readFileSync(join(env.homesRoot, tool(n), '.toolskube', 'client.crt'), 'utf8');
    report(await credentialReviews(c, resync.wall_s!, gateway, certPem));
    report(await accountReads(c, resync.wall_s!, admin, (i) => tool(i + 1)));
    report(await fullListing(c, admin, light && !readsOnly ? 5 : 20));
    report(
      await gatewayDenies({
        n,
        env,
        apiPort: ports.api,
        admin,
        repeats: restoreRepeats,
        toolName: (i) => tool(n - i),
      }),
    );
  } finally {
    await stopDaemon(daemon);
  }
}

/** The measured rows, with the columns some row fills; then the skipped scenarios and why. */
function table(): string {
  const all: (keyof Scenario)[] = [
    'name',
    'n',
    'wall_s',
    'cpu_s',
    'rss_mb',
    'api_requests',
    'runs',
    'p50_s',
    'p99_s',
    'rps',
    'p50_ms',
    'p99_ms',
    'connections',
    'sync_ratio',
    'floor_s',
    'ratio_to_floor',
    'peak_rps',
    'allowed_peak_rps',
    'baseline_rss_mb',
    'flood_rps',
    'token_reviews',
  ];
  const measured = scenarios.filter((s) => s.skipped === undefined);
  const cols = all.filter((c) => measured.some((s) => s[c] !== undefined));
  const rows = measured.map(
    (s) => `| ${cols.map((c) => (s[c] === undefined ? '' : String(s[c]))).join(' | ')} |`,
  );
  const skips = scenarios
    .filter((s) => s.skipped !== undefined)
    .map((s) => `- ${s.name} (N = ${s.n}): ${s.skipped}`);
  return [
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows,
    ...(skips.length ? ['', 'Skipped:', '', ...skips] : []),
  ].join('\n');
}

function settingsLine(s: Settings): string {
  const { qps, burst, concurrency, watchSeconds } = s.sync;
  return `defaults (qps ${qps}, burst ${burst}, concurrency ${concurrency}, ${s.certificates.keyType}, watch ${watchSeconds} s)`;
}

const started = new Date();
for (const n of sizes) await forN(n);
const date = started.toISOString().slice(0, 10);
const result = {
  date: started.toISOString(),
  mode,
  machine: { nproc: cpus().length, cpu: cpus()[0]?.model ?? '', memory_gib: round(totalmem() / 2 ** 30, 1) },
  versions: {
    ...pinnedVersions(),
    node: process.version,
    kubeusers: (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version,
  },
  settings: { kubeusers: settingsLine(defaults!), ...flags },
  scenarios,
};
const out = join(repo, 'bench', 'results');
const suffix = values.large ? `-${LARGE}` : values.quick ? '-quick' : '';
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, values.n ? `try-${values.n}.json` : `${date}${suffix}.json`),
  `${JSON.stringify(result, null, 2)}\n`,
);
const md = `# kubeusers benchmark, ${result.mode} mode, ${date}\n\nMachine: ${result.machine.nproc} cores (${result.machine.cpu}), ${result.machine.memory_gib} GiB. Kubernetes ${result.versions.kubernetes}, etcd ${result.versions.etcd}, Node ${result.versions.node}.\nSettings: ${result.settings.kubeusers}; apiserver and controller-manager flags in the JSON file.\n\n${table()}\n`;
writeFileSync(join(out, values.n ? `try-${values.n}.md` : `latest${suffix}.md`), md);
console.log(`\n${md}`);
process.exit(0);
