// `npm start`: a complete local platform (slapd, Kubernetes, kubeusers) on loopback, seeded with a
// small sample directory, for trying, demoing and developing kubeusers. Ctrl-C tears it all down.
// --keep leaves the data for the next start; --dir picks another data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startEnvironment, type Environment } from './environment.ts';
import { daemonSettings, writeApiServingPair } from './daemon-config.ts';
import { freePort, waitUntil } from './proc.ts';
import { alive } from './stale.ts';
import { installClusterRoles } from './cluster-roles.ts';
import { SAMPLE_ADMINS, SAMPLE_TOOLS } from './samples.ts';

const repo = resolve(import.meta.dirname, '..', '..');
const { values } = parseArgs({
  options: {
    keep: { type: 'boolean', default: false },
    dir: { type: 'string', default: join(repo, 'local') },
  },
});
const dataDir = resolve(values.dir);
const envDir = join(dataDir, 'env');
const lockFile = join(dataDir, 'kubeusers-local.pid');

/** One platform per data directory: a second start fails at once instead of fighting over ports and data. */
function takeLock(): void {
  mkdirSync(dataDir, { recursive: true });
  if (existsSync(lockFile)) {
    const pid = Number(readFileSync(lockFile, 'utf8'));
    if (pid > 0 && alive(pid)) {
      process.stderr.write(
        `kubeusers local: already running (pid ${pid}) with data in ${dataDir}; stop it first (Ctrl-C there, or kill ${pid}).\n`,
      );
      process.exit(1);
    }
  }
  writeFileSync(lockFile, String(process.pid));
}

async function main(): Promise<void> {
  takeLock();
  const started = performance.now();
  const reuse = values.keep === true && existsSync(join(envDir, 'env.json'));
  if (!values.keep) rmSync(envDir, { recursive: true, force: true });
  mkdirSync(envDir, { recursive: true });
  console.log(
    `kubeusers local: starting slapd and Kubernetes in ${relative(process.cwd(), envDir) || envDir} (${reuse ? 'warm, kept data' : 'fresh'})`,
  );
  const env = await startEnvironment({
    dir: envDir,
    reuse,
    seed: { tools: SAMPLE_TOOLS, admins: SAMPLE_ADMINS },
  });
  let daemon: ChildProcess | undefined;
  const stop = async (code: number): Promise<never> => {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    await env.stop();
    if (!values.keep) rmSync(envDir, { recursive: true, force: true });
    rmSync(lockFile, { force: true });
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  try {
    daemon = await startDaemon(env);
    const cfg = await writeConfig(env);
    // Ready for the guide once the first full sync has succeeded (readiness alone only means reachable).
    const synced = async (): Promise<boolean> =>
      /^kubeusers_sync_last_success_timestamp_seconds\{mode="sync"\}/m.test(
        await (await fetch(`http://127.0.0.1:${cfg.opsPort}/metrics`)).text(),
      );
    await waitUntil('kubeusers first sync', synced, { timeoutMs: 120_000 });
    printGuide(env, cfg, (performance.now() - started) / 1000);
  } catch (err) {
    process.stderr.write(`kubeusers local: ${(err as Error).message}\n`);
    await stop(1);
  }
}

interface LocalConfig {
  file: string;
  opsPort: number;
  apiPort: number;
  apiCa: string;
}

let config: LocalConfig | undefined;

async function writeConfig(env: Environment): Promise<LocalConfig> {
  if (config) return config;
  const e = env.info;
  const tls = await writeApiServingPair(e, envDir);
  const previous = existsSync(join(dataDir, 'ports.json'))
    ? (JSON.parse(readFileSync(join(dataDir, 'ports.json'), 'utf8')) as { ops: number; api: number })
    : undefined;
  const opsPort = previous?.ops ?? (await freePort());
  const apiPort = previous?.api ?? (await freePort());
  writeFileSync(join(dataDir, 'ports.json'), JSON.stringify({ ops: opsPort, api: apiPort }));
  const settings = {
    ...daemonSettings(e, 'local', { ops: opsPort, api: apiPort }, tls),
    certificates: { lifetimeSeconds: 86_400 },
    sync: { intervalSeconds: 5, renewalCron: '*/5 * * * *' },
    log: { level: 'info' },
  };
  const file = join(dataDir, 'kubeusers.yaml');
  writeFileSync(file, stringify(settings), { mode: 0o600 });
  config = { file, opsPort, apiPort, apiCa: e.kube.caFile };
  return config;
}

async function startDaemon(env: Environment): Promise<ChildProcess> {
  const e = env.info;
  await installClusterRoles(e);
  const cfg = await writeConfig(env);
  const log = join(dataDir, 'kubeusers.log');
  const child = spawn(process.execPath, [join(repo, 'src', 'cli', 'index.ts'), '--config', cfg.file, 'run'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const out = (c: Buffer) => writeFileSync(log, c, { flag: 'a' });
  child.stdout.on('data', out);
  child.stderr.on('data', out);
  child.once('exit', (code) => {
    if (code !== 0 && code !== null)
      process.stderr.write(`kubeusers local: the daemon exited with ${code}; see ${log}\n`);
  });
  return child;
}

function printGuide(env: Environment, cfg: LocalConfig, seconds: number): void {
  const e = env.info;
  const rel = (p: string): string => (p.startsWith(`${process.cwd()}/`) ? relative(process.cwd(), p) : p);
  const node = rel(process.execPath);
  const cli = `${node} ${rel(join(repo, 'src', 'cli', 'index.ts'))}`;
  const lines = [
    '',
    `kubeusers local platform — up in ${seconds.toFixed(1)} s. Everything listens on 127.0.0.1 only.`,
    '',
    `Tool homes:     ${rel(e.homesRoot)}/<tool>      (sample tools: alpha … lima; mike is locked; Not_A_Valid_Name is skipped)`,
    `Admin homes:    ${rel(e.adminHomesRoot)}/<user>  (alice, bob)`,
    '',
    'Act as the tool "alpha":',
    `  $ ${rel(e.kube.kubectl)} --kubeconfig ${rel(join(e.homesRoot, 'alpha', '.kube', 'config'))} auth whoami`,
    'Add a tool (its kubeconfig appears within one sync, 5 s):',
    `  $ npm run local -- add-tool mytool${values.dir === join(repo, 'local') ? '' : ` --dir ${rel(dataDir)}`}`,
    'Revoke a tool as the admin alice (the old kubeconfig is Forbidden at once; a new one is written):',
    `  $ ${cli} revoke alpha --reason "leaked" --api https://127.0.0.1:${cfg.apiPort} --api-ca ${rel(cfg.apiCa)} --kubeconfig ${rel(join(e.adminHomesRoot, 'alice', '.kube', 'config'))}`,
    'Metrics, readiness:',
    `  $ curl -s http://127.0.0.1:${cfg.opsPort}/metrics | grep ^kubeusers_`,
    `Daemon log: ${rel(join(dataDir, 'kubeusers.log'))}   Config: ${rel(cfg.file)}`,
    `Stop with Ctrl-C${values.keep ? ' (data kept for the next start)' : ' (everything is removed; --keep keeps it)'}.`,
    '',
    'ready',
  ];
  console.log(lines.join('\n'));
}

await main();
