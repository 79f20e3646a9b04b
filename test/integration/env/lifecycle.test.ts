import { existsSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { processesMentioning } from '../../env/proc.ts';
import { startEnvironment } from '../../env/environment.ts';

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
