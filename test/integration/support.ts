// A scenario: one project of the shared directory, one kubeusers instance (own namespace, prefix and
// homes), so that test files never see each other's accounts.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { parseConfig, type Settings } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { buildApp, ensureOwnNamespace, type App } from '../../src/main.ts';
import { makeLogger } from '../../src/log.ts';
import { runSync, type SyncOptions, type SyncResult } from '../../src/reconcile/sync.ts';
import { DirectoryFixture } from '../env/directory.ts';
import { expectLog, teeToLog } from '../env/logs.ts';
import { bindApiAdmins, installClusterRoles } from '../env/cluster-roles.ts';
import { startSlapd, type LdapSeed, type RunningLdap } from '../env/slapd.ts';
import { testEnv } from '../env/index.ts';
import type { EnvInfo } from '../env/environment.ts';

export interface Scenario {
  env: EnvInfo;
  project: string;
  dir: DirectoryFixture;
  settings: Settings;
  app: App;
  logs: string[];
  homesRoot: string;
  adminHomesRoot: string;
  /** The scenario's configuration as a file, for running the real CLI. */
  configFile: string;
  sync(opts?: Partial<SyncOptions>): Promise<SyncResult>;
  /** The scenario's private slapd, when it has one. */
  ldap?: RunningLdap;
}

const repo = join(import.meta.dirname, '..', '..');

export function scenarioInput(env: EnvInfo, project: string, extra: Partial<ConfigInput> = {}): ConfigInput {
  const base: ConfigInput = {
    ldap: {
      // What operators should run: StartTLS, verified against the directory's own CA.
      servers: [env.ldap.url],
      startTls: true,
      caFile: env.ldap.caFile,
      bindDn: env.ldap.serviceDn,
      bindPassword: { file: env.ldap.servicePasswordFile },
      baseDn: env.ldap.shape.baseDn,
      project,
      memberStyle: env.ldap.shape.memberStyle,
    },
    homes: { root: join(env.homesRoot, project), adminRoot: join(env.adminHomesRoot, project) },
    kubernetes: {
      kubeconfig: env.kube.adminKubeconfig,
      namespace: `kubeusers-${project}`,
      namespacePrefix: `${project}-`,
      clusterName: 'test',
    },
    certificates: { lifetimeSeconds: 3600, signTimeoutSeconds: 60 },
    log: { level: 'debug' },
  };
  return {
    ...base,
    ...extra,
    ldap: { ...base.ldap, ...extra.ldap },
    kubernetes: { ...base.kubernetes, ...extra.kubernetes },
  };
}

export interface ScenarioOptions {
  /** A private slapd for this scenario, seeded before start (for malformed entries, or to stop it). */
  ownLdap?: LdapSeed;
  /** slapd's debug level for the private slapd (`stats` logs every search and its result). */
  ldapDebug?: string;
}

export async function scenario(
  project: string,
  extra: Partial<ConfigInput> = {},
  opts: ScenarioOptions = {},
): Promise<Scenario> {
  const shared = testEnv();
  let env = shared;
  let ldap: RunningLdap | undefined;
  if (opts.ownLdap) {
    const dir = mkdtempSync(join(shared.dir, `ldap-${project}-`));
    const shape = {
      ...shared.ldap.shape,
      project,
      homesRoot: join(shared.homesRoot, project),
      adminHomesRoot: join(shared.adminHomesRoot, project),
    };
    ldap = await startSlapd(dir, shape, opts.ownLdap, opts.ldapDebug ? { debug: opts.ldapDebug } : {});
    // Registered with the shared environment, so a killed run's slapd is reaped like the rest.
    appendFileSync(join(shared.dir, 'pids'), `${ldap.proc.pid}\n`);
    env = { ...shared, ldap: ldap.info };
  }
  const input = scenarioInput(env, project, extra);
  const settings = parseConfig('test settings', input);
  const configFile = join(env.dir, `config-${project}-${process.hrtime.bigint()}.yaml`);
  writeFileSync(configFile, stringify(input), { mode: 0o600 });
  mkdirSync(settings.homes.root, { recursive: true });
  mkdirSync(settings.homes.adminRoot, { recursive: true });
  const shape = {
    ...env.ldap.shape,
    project,
    homesRoot: settings.homes.root,
    adminHomesRoot: settings.homes.adminRoot,
  };
  const dir = new DirectoryFixture({ ...env.ldap, shape });
  await dir.ensureAdminGroup();
  await installClusterRoles(env);
  await bindApiAdmins(env, settings.kubernetes.namespace);
  const logs: string[] = [];
  // Every line also goes to a file the global teardown searches for secrets. It is named to the
  // teardown on its first line: a scenario whose in-process kubeusers never logs (its test runs the
  // CLI and daemons of its own) has nothing to scan and is not a missing log.
  const logFile = join(shared.dir, `kubeusers-${project}-${process.pid}.jsonl`);
  let named = false;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (!named) expectLog(shared.dir, logFile);
      named = true;
      appendFileSync(logFile, chunk);
      done();
    },
  });
  const app = await buildApp(settings, { log: makeLogger('debug', sink) });
  await ensureOwnNamespace(app);
  return {
    env,
    project,
    dir,
    settings,
    app,
    logs,
    homesRoot: settings.homes.root,
    adminHomesRoot: settings.homes.adminRoot,
    configFile,
    sync: (o = {}) => runSync(app.sync, { mode: 'sync', ...o }),
    ...(ldap ? { ldap } : {}),
  };
}

/** `<home>/.kube/config`. */
export const kubeconfigOf = (home: string): string => join(home, '.kube', 'config');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `kubeusers` CLI from source (Node 24 strips the types) as its own process. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const logs = testEnv().dir;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, 'src', 'cli', 'index.ts'), ...args], {
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    teeToLog(child, logs, 'cli');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
