// A test run that was killed (SIGKILL, OOM, CI timeout) cannot tear down; the next run does it.
// Every environment directory records its owner's pid and its children's pids.
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
    for (const pid of await readPids(join(dir, 'pids'))) {
      // A recycled pid belongs to someone else: only kill processes whose command line names our directory.
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(dir)) process.kill(pid, 'SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
    cleaned++;
  }
  return cleaned;
}
