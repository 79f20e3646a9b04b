// Stops and starts the shared environment's kube-apiserver (same binary, same flags, same port), for
// tests of what kubeusers does across an API outage. etcd and the controller-manager keep running.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlPlaneBinaries } from './binaries.ts';
import type { EnvInfo } from './environment.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The control plane's directory: its pids file, logs, and the apiserver's working directory. */
const kubeDir = (env: EnvInfo): string => dirname(env.kube.auditLog);

/** The running kube-apiserver among the environment's processes (a restart appends its pid). */
function apiserverPid(env: EnvInfo): number {
  const listed = readFileSync(join(kubeDir(env), 'pids'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(Number);
  for (const pid of [...new Set([...env.pids, ...listed])].reverse()) {
    if (!alive(pid)) continue;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    if (cmd.endsWith('/kube-apiserver')) return pid;
  }
  throw new Error('no kube-apiserver of this environment is running');
}

function ready(env: EnvInfo): Promise<boolean> {
  const kc = JSON.parse(readFileSync(env.kube.adminKubeconfig, 'utf8')) as {
    users: { user: Record<string, string> }[];
  };
  const user = kc.users[0]!.user;
  const b64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
  return new Promise((resolve) => {
    const req = request(
      `${env.kube.server}/readyz`,
      {
        ca: readFileSync(env.kube.caFile),
        cert: b64(user['client-certificate-data']),
        key: b64(user['client-key-data']),
        timeout: 2_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export interface StoppedApiserver {
  /** Starts it again and resolves once /readyz answers 200. */
  start(): Promise<void>;
}

/** SIGTERM to the apiserver, resolved once the process is gone (the API is down). */
export async function stopApiserver(
  env: EnvInfo,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<StoppedApiserver> {
  const pid = apiserverPid(env);
  process.kill(pid, signal);
  while (alive(pid)) await sleep(50);
  return {
    start: async () => {
      const fd = openSync(join(kubeDir(env), 'kube-apiserver.log'), 'a');
      const child = spawn(controlPlaneBinaries().kubeApiserver, env.kube.flags.apiserver, {
        stdio: ['ignore', fd, fd],
        cwd: kubeDir(env),
      });
      closeSync(fd);
      if (child.pid === undefined) throw new Error('could not start kube-apiserver again');
      const restarted = child.pid;
      // Not a handle of this process: jest must still be able to exit.
      child.unref();
      // Listed with the environment's processes; the environment's stop (and the next run's reaper)
      // ends it, since its command line names the environment's directory.
      appendFileSync(join(kubeDir(env), 'pids'), `${restarted}\n`);
      const deadline = performance.now() + 60_000;
      while (!(await ready(env))) {
        if (child.exitCode !== null) throw new Error(`kube-apiserver exited with ${child.exitCode}`);
        if (performance.now() > deadline) throw new Error('kube-apiserver not ready 60 s after restart');
        await sleep(100);
      }
    },
  };
}
