// npm run build && node bench/profile-flags.ts [-- --n 1000] --flags=A --flags=B: one-shot no-op
// `sync --once` runs alternating between Node flag sets on one provisioned cluster (CPU, wall, peak
// RSS each), to weigh a V8 flag's memory against its CPU. With --resync: a daemon per flag set
// instead, its full sync every second, nothing changed (the `resync` row's measure) and its peak RSS.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { daemonSettings, writeApiServingPair } from '../test/env/daemon-config.ts';
import { startEnvironment } from '../test/env/environment.ts';
import { generatedTools } from '../test/env/ldif.ts';
import { freePort } from '../test/env/proc.ts';
import { shippedNodeFlags } from '../test/env/shipped.ts';
import { round, timed } from './measure.ts';
import { peakRss, startDaemon, stopDaemon } from './daemon.ts';
import { periodicResync, RESYNC_INTERVAL_S } from './resync.ts';

const repo = join(import.meta.dirname, '..');
const cli = join(repo, 'dist', 'cli', 'index.js');
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    flags: { type: 'string', multiple: true },
    repeats: { type: 'string', default: '4' },
    resync: { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const sets = (values.flags ?? [shippedNodeFlags().join(' ')]).map((f) => f.split(/\s+/).filter(Boolean));

const env = await startEnvironment({
  seed: { tools: generatedTools(n, { prefix: 'b', firstUid: 100_000 }), admins: [] },
});
try {
  const dir = mkdtempSync(join(env.info.dir, 'flags-'));
  const tls = await writeApiServingPair(env.info, dir);
  const ports = { ops: await freePort(), api: await freePort() };
  const config = join(dir, 'kubeusers.yaml');
  writeFileSync(
    config,
    stringify({ ...daemonSettings(env.info, 'bench', ports, tls), log: { level: 'warn' } }),
    {
      mode: 0o600,
    },
  );
  const sync = (flags: string[]) =>
    timed(process.execPath, [...flags, cli, '--config', config, 'sync', '--once']);
  const cold = await sync(shippedNodeFlags());
  if (cold.code !== 0) throw new Error(`cold sync failed: ${cold.stderr.slice(0, 500)}`);
  const resyncConfig = join(dir, 'kubeusers-resync.yaml');
  writeFileSync(
    resyncConfig,
    stringify({
      ...daemonSettings(env.info, 'bench', ports, tls),
      log: { level: 'warn' },
      sync: { intervalSeconds: RESYNC_INTERVAL_S, renewalCron: '0 0 1 1 *' },
    }),
    { mode: 0o600 },
  );
  /** A daemon with these flags, resyncing every second: 10 syncs measured, its peak RSS after. */
  const resync = async (flags: string[]) => {
    const daemon = await startDaemon([...flags, cli], resyncConfig, ports.ops);
    try {
      const r = await periodicResync({
        n,
        pid: daemon.pid!,
        opsPort: ports.ops,
        audit: env.info.kube.auditLog,
        seconds: 0,
        runs: 10,
        connections: 0,
      });
      return { wall_s: r.wall_s!, cpu_s: r.cpu_s!, rss_mb: peakRss(daemon.pid!) };
    } finally {
      await stopDaemon(daemon);
    }
  };
  const rows: string[] = [];
  for (let r = 0; r < Number(values.repeats); r++)
    for (const flags of sets) {
      const u = values.resync ? await resync(flags) : await sync(flags);
      rows.push(
        `| \`${flags.join(' ')}\` | ${r + 1} | ${round(u.wall_s, 3)} | ${round(u.cpu_s, 3)} | ${round(u.rss_mb, 0)} |`,
      );
      console.log(rows.at(-1));
    }
  console.log(
    ['| flags | run | wall_s | cpu_s | rss_mb |', '| --- | --- | --- | --- | --- |', ...rows].join('\n'),
  );
} finally {
  await env.stop();
}
process.exit(0);
