// The one real environment shared by integration tests, benchmarks and the local demo:
// slapd + etcd + kube-apiserver + kube-controller-manager, all on loopback ports picked here.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishClusterInfo } from './cluster-info.ts';
import type { DirectoryShape } from './ldif.ts';
import { startKube, type KubeInfo, type RunningKube } from './kube.ts';
import { processesMentioning } from './proc.ts';
import { startSlapd, type LdapInfo, type LdapSeed, type RunningLdap } from './slapd.ts';
import { ENV_DIR_PREFIX, reapStaleEnvironments } from './stale.ts';

export interface EnvInfo {
  dir: string;
  homesRoot: string;
  adminHomesRoot: string;
  ldap: LdapInfo;
  kube: KubeInfo;
  pids: number[];
}

export interface Environment {
  info: EnvInfo;
  stop: () => Promise<void>;
}

export interface EnvOptions {
  /** A fixed directory (the local demo's `--keep`); default a fresh temp dir removed at stop. */
  dir?: string;
  shape?: Partial<Omit<DirectoryShape, 'homesRoot' | 'adminHomesRoot'>>;
  seed?: LdapSeed;
  /** With `dir`: start on what a previous run left there, on the same ports when free. */
  reuse?: boolean;
}

export const ENV_FILE = 'env.json';

export async function startEnvironment(opts: EnvOptions = {}): Promise<Environment> {
  // What a killed run left behind (a benchmark, a test run) would skew this one: stop it first.
  if (opts.dir === undefined) await reapStaleEnvironments();
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), ENV_DIR_PREFIX)));
  const owned = opts.dir === undefined;
  await writeFile(join(dir, 'owner'), `${process.pid}\n`);
  const homesRoot = join(dir, 'homes');
  const adminHomesRoot = join(dir, 'home');
  await mkdir(homesRoot, { recursive: true });
  await mkdir(adminHomesRoot, { recursive: true });
  const shape: DirectoryShape = {
    baseDn: 'dc=toolforge,dc=test',
    project: 'tools',
    memberStyle: 'member',
    ...opts.shape,
    homesRoot,
    adminHomesRoot,
  };
  await mkdir(join(dir, 'ldap'), { recursive: true });
  await mkdir(join(dir, 'kube'), { recursive: true });

  const started = await startBoth(dir, shape, opts);
  const [ldapR, kubeR] = started;
  const ldap: RunningLdap | undefined = ldapR.status === 'fulfilled' ? ldapR.value : undefined;
  const kube: RunningKube | undefined = kubeR.status === 'fulfilled' ? kubeR.value : undefined;
  const stop = async () => {
    await kube?.stop();
    await ldap?.stop();
    if (!owned) return;
    // What the environment did not start itself (an apiserver a test restarted, a daemon a test left
    // running) names the directory on its command line, as the reaper finds it.
    for (const pid of processesMentioning(`${dir}/`)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (!ldap || !kube) {
      const failure = started.find((r) => r.status === 'rejected');
      throw failure && 'reason' in failure ? failure.reason : new Error('environment failed to start');
    }
    await publishClusterInfo(kube.info);
    const info: EnvInfo = {
      dir,
      homesRoot,
      adminHomesRoot,
      ldap: ldap.info,
      kube: kube.info,
      pids: [ldap.proc.pid, ...kube.procs.map((p) => p.pid)],
    };
    await writeFile(join(dir, ENV_FILE), JSON.stringify(info, null, 2), { mode: 0o600 });
    return { info, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function readPrevious(dir: string): Promise<EnvInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, ENV_FILE), 'utf8')) as EnvInfo;
  } catch {
    return undefined;
  }
}

/** slapd and the control plane start side by side; a kept environment takes its old ports again. */
async function startBoth(dir: string, shape: DirectoryShape, opts: EnvOptions) {
  const reuse = opts.reuse ?? false;
  const previous = reuse ? await readPrevious(dir) : undefined;
  const ldapPort = previous
    ? {
        port: Number(new URL(previous.ldap.url).port),
        ...(previous.ldap.ldapsUrl ? { tlsPort: Number(new URL(previous.ldap.ldapsUrl).port) } : {}),
      }
    : {};
  const kubePorts = previous?.kube.ports ? { ports: previous.kube.ports } : {};
  return Promise.allSettled([
    startSlapd(join(dir, 'ldap'), shape, opts.seed, { reuse, ...ldapPort }),
    startKube(join(dir, 'kube'), undefined, { reuse, ...kubePorts }),
  ]);
}
