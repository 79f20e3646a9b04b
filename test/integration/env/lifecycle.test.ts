import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { startEnvironment } from '../../env/environment.ts';

/** Every process in the table whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('the environment lifecycle', () => {
  it('starts a second, independent environment and leaves no process, port or directory after stop', async () => {
    const env = await startEnvironment({ shape: { baseDn: 'dc=other,dc=test', project: 'other' } });
    const { dir, pids } = env.info;
    expect(pids).toHaveLength(4);
    expect(processesMentioning(dir).sort()).toEqual([...pids].sort());
    await env.stop();
    expect(processesMentioning(dir)).toEqual([]);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
