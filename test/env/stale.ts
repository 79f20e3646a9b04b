// A test run that was killed (SIGKILL, OOM, CI timeout) cannot tear down; the next run does it.
// Every environment directory records its owner's pid; its processes name it on their command lines.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processesMentioning } from './proc.ts';

export const ENV_DIR_PREFIX = 'kubeusers-env-';

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readPids(file: string): Promise<number[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((l) => Number.parseInt(l, 10))
    .filter((n) => Number.isInteger(n) && n > 1);
}

/** Kills what dead owners left behind and removes their directories. Returns how many it cleaned. */
export async function reapStaleEnvironments(root = tmpdir()): Promise<number> {
  const names = (await readdir(root)).filter((n) => n.startsWith(ENV_DIR_PREFIX));
  let cleaned = 0;
  for (const name of names) {
    const dir = join(root, name);
    const [owner] = await readPids(join(dir, 'owner'));
    if (owner !== undefined && alive(owner)) continue;
    // A directory being created this moment has no owner file yet.
    if (owner === undefined && Date.now() - (await stat(dir)).mtimeMs < 60_000) continue;
    // Every process whose command line names the directory (slapd, etcd, the apiserver, the
    // controller-manager, a daemon): a recycled pid belongs to someone else and does not.
    for (const pid of processesMentioning(`${dir}/`)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    cleaned++;
  }
  return cleaned;
}
