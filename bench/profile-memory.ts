// npm run build && node bench/profile-memory.ts [-- --n 1000] [--flags "--max-semi-space-size=2"]
// [--label x] [--snapshot] [--no-flood]: where the running daemon's memory goes, phase by phase, as the
// `memory` row of bench/run.ts sees it (its first sync, a no-op sync, the stranger's flood of the admin
// API). The daemon runs with bench/memory-sampler.ts (RSS, V8 spaces, external memory every 100 ms)
// and `--heapsnapshot-signal`; writes bench/results/profile-memory-<n>[-<label>].md.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { daemonSettings, writeApiServingPair } from '../test/env/daemon-config.ts';
import { DirectoryFixture } from '../test/env/directory.ts';
import { startEnvironment, type EnvInfo } from '../test/env/environment.ts';
import { generatedTools } from '../test/env/ldif.ts';
import { freePort, waitUntil } from '../test/env/proc.ts';
import { shippedNodeFlags } from '../test/env/shipped.ts';
import { peakRss, stopDaemon, synced, syncMetrics, ticksOf } from './daemon.ts';
import { startFlood } from './flood.ts';
import { round, timed } from './measure.ts';

const repo = join(import.meta.dirname, '..');
const cli = join(repo, 'dist', 'cli', 'index.js');
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    // Repeatable: one daemon per set of Node flags, one after the other on the same cluster.
    flags: { type: 'string', multiple: true },
    label: { type: 'string' },
    snapshot: { type: 'boolean', default: false },
    'no-flood': { type: 'boolean', default: false },
    'flood-seconds': { type: 'string', default: '5' },
    log: { type: 'string', default: 'info' },
  },
});
const n = Number(values.n);
const flagSets = (values.flags ?? [shippedNodeFlags().join(' ')]).map((f) => f.split(/\s+/).filter(Boolean));

interface Sample {
  t: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  malloced: number;
  spaces: Record<string, number>;
}

const currentRss = (pid: number): number =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const samplesOf = (file: string): Sample[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Sample);

interface Phase {
  name: string;
  from: number;
  to: number;
  hwm: number;
  rss: number;
  cpu: number;
}

function phaseRow(p: Phase, samples: Sample[]): string {
  const in_ = samples.filter((s) => s.t >= p.from && s.t <= p.to);
  const max = (f: (s: Sample) => number): number =>
    in_.length ? in_.reduce((m, s) => Math.max(m, f(s)), -Infinity) : NaN;
  return `| ${p.name} | ${round((p.to - p.from) / 1000, 1)} | ${round(p.cpu, 2)} | ${round(p.hwm, 0)} | ${round(p.rss, 0)} | ${max((s) => s.rss)} | ${max((s) => s.heapTotal)} | ${max((s) => s.heapUsed)} | ${max((s) => s.spaces.new ?? 0)} | ${max((s) => s.spaces.large_object ?? 0)} | ${max((s) => s.external)} | ${max((s) => s.arrayBuffers)} | ${max((s) => s.malloced)} | ${round(
    max((s) => s.rss - s.heapTotal - s.external),
    1,
  )} |`;
}

async function run(env: EnvInfo): Promise<string> {
  const dir = mkdtempSync(join(env.dir, 'memory-'));
  const tls = await writeApiServingPair(env, dir);
  const ports = { ops: await freePort(), api: await freePort() };
  const config = join(dir, 'kubeusers.yaml');
  writeFileSync(
    config,
    stringify({ ...daemonSettings(env, 'bench', ports, tls), log: { level: values.log } }),
    {
      mode: 0o600,
    },
  );
  const cold = await timed(process.execPath, [
    ...shippedNodeFlags(),
    cli,
    '--config',
    config,
    'sync',
    '--once',
  ]);
  if (cold.code !== 0) throw new Error(`cold sync failed (${cold.code}): ${cold.stderr.slice(0, 500)}`);
  console.log(`cold: ${round(cold.wall_s)} s, ${round(cold.rss_mb, 0)} MB`);
  const sections: string[] = [];
  for (const flags of flagSets) sections.push(await phases(env, dir, config, ports, flags));
  return [
    `# The daemon's memory, phase by phase, N = ${n}${values.label ? ` (${values.label})` : ''}`,
    '',
    `Cold sync before it: ${round(cold.wall_s)} s, ${round(cold.rss_mb, 0)} MB. MB; VmHWM/VmRSS from /proc at the end`,
    "of each phase; the other columns are the highest of the sampler's 100 ms samples in that phase;",
    '`native` is RSS − V8 heap − external (malloc, TLS, code). The no-op phase waits, scraping',
    "/metrics, for the next periodic full sync (as bench/run.ts's `noop` row does).",
    '',
    ...sections,
  ].join('\n');
}

async function phases(
  env: EnvInfo,
  dir: string,
  config: string,
  ports: { ops: number; api: number },
  nodeFlags: string[],
): Promise<string> {
  // Heap snapshots outlive the environment's directory.
  const keep = mkdtempSync(join(tmpdir(), 'kubeusers-heap-'));
  const samples = join(keep, 'samples.jsonl');
  const args = [
    ...nodeFlags,
    '--import',
    join(repo, 'bench', 'memory-sampler.ts'),
    '--heapsnapshot-signal=SIGUSR2',
    `--diagnostic-dir=${keep}`,
    cli,
    '--config',
    config,
    'run',
  ];
  const started = Date.now();
  const daemon = spawn(process.execPath, args, {
    env: { ...process.env, NODE_OPTIONS: '', KUBEUSERS_MEMORY_SAMPLES: samples },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: dir,
  });
  daemon.stderr.on('data', (c: Buffer) => appendFileSync(join(keep, 'daemon.log'), c));
  daemon.stdout.on('data', (c: Buffer) => appendFileSync(join(keep, 'daemon.log'), c));
  const pid = daemon.pid!;
  // A daemon that dies (a heap limit too low among the flags tried: out of memory) ends the run with
  // its reason, instead of a wait for a sync that never comes.
  const exited = new Promise<never>((_, reject) =>
    daemon.once('exit', (code, signal) =>
      reject(new Error(`the daemon exited (${code ?? signal}) during the run: ${join(keep, 'daemon.log')}`)),
    ),
  );
  exited.catch(() => undefined);
  const during = <T>(p: Promise<T>): Promise<T> => Promise.race([p, exited]);
  const phases: Phase[] = [];
  let from = started;
  let ticks = 0;
  const mark = (name: string): void => {
    const to = Date.now();
    const t = ticksOf(pid);
    phases.push({ name, from, to, hwm: peakRss(pid), rss: currentRss(pid), cpu: (t - ticks) / 100 });
    console.log(`${name}: VmHWM ${peakRss(pid).toFixed(0)} MB, VmRSS ${currentRss(pid).toFixed(0)} MB`);
    from = to;
    ticks = t;
  };
  const snapshot = async (name: string): Promise<void> => {
    if (!values.snapshot) return;
    // Written by the daemon itself (its RSS grows while it writes): the last thing measured.
    daemon.kill('SIGUSR2');
    const size = (): number =>
      readdirSync(keep)
        .filter((f) => f.endsWith('.heapsnapshot'))
        .reduce((a, f) => a + statSync(join(keep, f)).size, 0);
    let last = -1;
    await waitUntil(
      `snapshot ${name}`,
      async () => {
        await new Promise((r) => setTimeout(r, 2_000));
        const now = size();
        const done = now > 0 && now === last;
        last = now;
        return done;
      },
      { timeoutMs: 300_000 },
    );
  };
  try {
    await during(
      waitUntil('daemon', async () => (await fetch(`http://127.0.0.1:${ports.ops}/readyz`)).ok, {
        timeoutMs: 120_000,
      }),
    );
    await during(waitUntil('first sync', async () => synced(ports.ops), { timeoutMs: 600_000 }));
    mark('start and first sync');
    await new Promise((r) => setTimeout(r, 3_000));
    mark('idle 3 s');
    const before = await syncMetrics(ports.ops);
    const ldap = new DirectoryFixture(env.ldap);
    await ldap.replaceAttribute(ldap.toolDn('b-00001'), 'description', [`touched ${Date.now()}`]);
    await during(
      waitUntil('the sync', async () => (await syncMetrics(ports.ops)).runs > before.runs, {
        timeoutMs: 300_000,
      }),
    );
    mark('no-op sync (one LDAP entry touched)');
    if (!values['no-flood']) {
      const flood = startFlood({
        url: `https://127.0.0.1:${ports.api}`,
        caPem: readFileSync(env.kube.caFile, 'utf8'),
        perSecond: 1_000,
        addresses: 100,
      });
      await new Promise((r) => setTimeout(r, Number(values['flood-seconds']) * 1000));
      const f = await flood.stop();
      mark(`flood of bad tokens (${f.sent} sent, ${JSON.stringify(f.statuses)})`);
      await new Promise((r) => setTimeout(r, 5_000));
      mark('idle 5 s after the flood');
    }
    await snapshot('end');
  } finally {
    await stopDaemon(daemon);
  }
  const s = samplesOf(samples);
  const snaps = readdirSync(keep).filter((f) => f.endsWith('.heapsnapshot'));
  return [
    `## Node flags: \`${nodeFlags.join(' ') || '(none)'}\``,
    '',
    '| phase | s | cpu_s | VmHWM | VmRSS | rss | heapTotal | heapUsed | new space | large objects | external | arrayBuffers | malloced | native |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...phases.map((p) => phaseRow(p, s)),
    '',
    `Samples and the daemon's log: ${keep}`,
    snaps.length ? `Heap snapshots: ${snaps.map((f) => join(keep, f)).join(', ')}` : '',
    '',
  ].join('\n');
}

const env = await startEnvironment({
  seed: { tools: generatedTools(n, { prefix: 'b', firstUid: 100_000 }), admins: [] },
});
try {
  const md = await run(env.info);
  writeFileSync(
    join(repo, 'bench', 'results', `profile-memory-${n}${values.label ? `-${values.label}` : ''}.md`),
    md,
  );
  console.log(md);
} finally {
  await env.stop();
}
process.exit(0);
