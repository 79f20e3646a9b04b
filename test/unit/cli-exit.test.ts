// A finished command ends its process even when something was left open: a SIGTERMed daemon that
// lingered would be killed by the kubelet only after its grace period, a cron one-shot never. The
// leak is injected with --import (an interval nobody clears); the command is one that needs no
// environment (`renew` without --once or a name: a usage error, exit code 2).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'index.ts');

function run(preload: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...preload, cli, 'renew'], {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    // A process that hangs is killed, so that the case fails instead of leaving it behind.
    const hung = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(hung);
      resolve({ code, stderr });
    });
  });
}

const LEAK = ['--import', 'data:text/javascript,setInterval(() => {}, 60_000)'];

describe('the kubeusers process after its command', () => {
  it.each<[string, string[], RegExp | undefined]>([
    ['nothing left open: it ends by itself, nothing said', [], undefined],
    ["an interval left open: it says so and ends with the command's code", LEAK, /still holding .*Timeout/],
  ])(
    '%s',
    async (_name, preload, said) => {
      const r = await run(preload);
      expect(r.code).toBe(2);
      if (said) expect(r.stderr).toMatch(said);
      else expect(r.stderr).not.toContain('still holding');
    },
    20_000,
  );
});
