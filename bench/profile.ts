// npm run bench:profile [-- --n 1000]: where a cold provisioning run's time goes. Runs one cold sync
// under --cpu-prof and reports the CPU each process of the platform used, the requests each client
// made (from the audit log), and second by second how many CSRs kubeusers created and the signer
// signed. Writes bench/results/profile-<n>.md; the raw .cpuprofile stays in the run's directory.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { daemonSettings, writeApiServingPair } from '../test/env/daemon-config.ts';
import { startEnvironment, type EnvInfo } from '../test/env/environment.ts';
import { generatedTools } from '../test/env/ldif.ts';
import { freePort } from '../test/env/proc.ts';
import { shippedNodeFlags } from '../test/env/shipped.ts';
import { peakRss, startDaemon, stopDaemon, syncMetrics } from './daemon.ts';
import { auditEvents, auditOffset, round, timed, type Usage } from './measure.ts';
import {
  byClient,
  cpuTicks,
  csrPhases,
  hotFunctions,
  ourFunctions,
  oneAccount,
  signingTimeline,
} from './profile-report.ts';

const repo = join(import.meta.dirname, '..');
const cli = join(repo, 'dist', 'cli', 'index.js');
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    qps: { type: 'string' },
    // Seconds of a daemon resyncing every second, nothing changed, under the profiler (0: none).
    resync: { type: 'string', default: '15' },
  },
});
const n = Number(values.n);

/** `kubeusers sync --once` under V8's CPU profiler; the profile's file, if it wrote one. */
async function profiledSync(
  env: EnvInfo,
  config: string,
  what: string,
): Promise<Usage & { profile?: string }> {
  const dir = mkdtempSync(join(env.dir, `${what}-`));
  const run = await timed(process.execPath, [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    ...shippedNodeFlags(),
    cli,
    '--config',
    config,
    'sync',
    '--once',
  ]);
  if (run.code !== 0) throw new Error(`${what} sync failed (${run.code}): ${run.stderr.slice(0, 500)}`);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  return { ...run, ...(file ? { profile: join(dir, file) } : {}) };
}

/**
 * `kubeusers run` with a full sync every second and nothing to change, under the profiler for
 * `seconds`: where a resync's CPU goes once the first sync is done (its profile includes that
 * first sync; the table of our functions is dominated by the resyncs when `seconds` is long enough).
 */
async function profiledResync(
  config: string,
  dir: string,
  opsPort: number,
  seconds: number,
): Promise<{ profile?: string; runs: number; wall: number; peakMb: number }> {
  const profDir = mkdtempSync(join(dir, 'resync-'));
  const daemon = await startDaemon(
    ['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...shippedNodeFlags(), cli],
    config,
    opsPort,
  );
  const before = await syncMetrics(opsPort);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await syncMetrics(opsPort);
  const peakMb = peakRss(daemon.pid!);
  await stopDaemon(daemon);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  const runs = after.runs - before.runs;
  return {
    ...(file ? { profile: join(profDir, file) } : {}),
    runs,
    wall: runs ? (after.seconds - before.seconds) / runs : NaN,
    peakMb,
  };
}

async function profile(env: EnvInfo, names: string[]): Promise<string> {
  const dir = mkdtempSync(join(env.dir, 'profile-'));
  await writeApiServingPair(env, dir);
  const ports = { ops: await freePort(), api: await freePort() };
  const tls = { certFile: join(dir, 'api.crt'), keyFile: join(dir, 'api.key') };
  const config = join(dir, 'kubeusers.yaml');
  writeFileSync(
    config,
    stringify({
      ...daemonSettings(env, 'bench', ports, tls),
      log: { level: 'warn' },
      ...(values.qps ? { sync: { qps: Number(values.qps), burst: Number(values.qps) } } : {}),
    }),
    {
      mode: 0o600,
    },
  );
  const offset = auditOffset(env.kube.auditLog);
  const before = cpuTicks(env.pids);
  const cold = await profiledSync(env, config, 'cold');
  const after = cpuTicks(env.pids);
  const events = auditEvents(env.kube.auditLog, offset);
  // Then the same, everything up to date: a no-op sync.
  const noop = await profiledSync(env, config, 'noop');
  const resyncSeconds = Number(values.resync);
  const resyncConfig = join(dir, 'kubeusers-resync.yaml');
  writeFileSync(
    resyncConfig,
    stringify({
      ...daemonSettings(env, 'bench', ports, tls),
      log: { level: 'warn' },
      sync: { intervalSeconds: 1, renewalCron: '0 0 1 1 *' },
      leaderElection: { leaseName: 'kubeusers-profile-resync' },
    }),
    { mode: 0o600 },
  );
  const resync =
    resyncSeconds > 0 ? await profiledResync(resyncConfig, dir, ports.ops, resyncSeconds) : undefined;
  const cpu = env.pids.map(
    (pid, i) => `| ${names[i]} | ${round(((after[i] ?? 0) - (before[i] ?? 0)) / 100)} |`,
  );
  return [
    `# Where a cold run's time goes, N = ${n}, sync.qps ${values.qps ?? 'default'}`,
    '',
    `Cold sync: ${round(cold.wall_s)} s wall, ${round(cold.cpu_s)} s kubeusers CPU, ${round(cold.rss_mb, 0)} MB peak RSS.`,
    '',
    '## CPU seconds by process during the run',
    '',
    '| process | cpu_s |',
    '| --- | --- |',
    `| kubeusers | ${round(cold.cpu_s)} |`,
    ...cpu,
    '',
    '## Requests by client (audit log)',
    '',
    byClient(events),
    '',
    '## The steps of a CSR, from the audit log',
    '',
    csrPhases(events),
    '',
    `## The requests for one account (b-${String(Math.ceil(n / 2)).padStart(5, '0')})`,
    '',
    oneAccount(events, `b-${String(Math.ceil(n / 2)).padStart(5, '0')}`),
    '',
    '## CSRs created by kubeusers and signed by the cluster, per 5 s',
    '',
    signingTimeline(events, 5),
    '',
    '## kubeusers: hottest functions (self time)',
    '',
    cold.profile ? hotFunctions(cold.profile, 15) : '(no profile written)',
    '',
    `## A no-op sync after it: ${round(noop.wall_s)} s wall, ${round(noop.cpu_s)} s CPU (Node start-up included), ${round(noop.rss_mb, 0)} MB`,
    '',
    noop.profile ? ourFunctions(noop.profile, 25) : '(no profile written)',
    '',
    noop.profile ? hotFunctions(noop.profile, 15) : '',
    '',
    ...(resync
      ? [
          `## The daemon resyncing every second, nothing changed: ${resync.runs} resyncs of ${round(resync.wall, 3)} s mean wall (the first sync in the profile too); its peak RSS ${round(resync.peakMb, 0)} MB (under the profiler)`,
          '',
          resync.profile ? ourFunctions(resync.profile, 30) : '(no profile written)',
          '',
          resync.profile ? hotFunctions(resync.profile, 20) : '',
          '',
        ]
      : []),
  ].join('\n');
}

const env = await startEnvironment({
  seed: { tools: generatedTools(n, { prefix: 'b', firstUid: 100_000 }), admins: [] },
});
try {
  const md = await profile(env.info, ['slapd', 'etcd', 'kube-apiserver', 'kube-controller-manager']);
  writeFileSync(
    join(repo, 'bench', 'results', `profile-${n}${values.qps ? `-qps${values.qps}` : ''}.md`),
    md,
  );
  console.log(md);
} finally {
  await env.stop();
}
process.exit(0);
