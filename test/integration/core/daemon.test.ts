import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl, testEnv } from '../../env/index.ts';
import { teeToLog } from '../../env/logs.ts';
import { cli, kubeconfigOf, scenario, type Scenario } from '../support.ts';

let s: Scenario;
/** What the daemon printed, shown beside a later failure it may explain. */
let daemonOut = '';
const repo = join(import.meta.dirname, '..', '..', '..');

beforeAll(async () => {
  s = await scenario('dm', {
    // A long interval: the second tool arrives through the directory watch, not the periodic sync.
    sync: { intervalSeconds: 120, watchSeconds: 1, renewalCron: '*/2 * * * * *' },
    ops: { address: '127.0.0.1', port: 0 },
    certificates: { lifetimeSeconds: 600, renewFraction: 0.001, jitterFraction: 0 },
  });
  await s.dir.addTool({ name: 'first', uidNumber: 62_001 });
});

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

describe('kubeusers run', () => {
  it('provisions a tool added while it runs, renews on its cron sweep, and drains on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [join(repo, 'src', 'cli', 'index.ts'), '--config', s.configFile, 'run'],
      {
        env: { ...process.env, NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    teeToLog(child, testEnv().dir, 'run-daemon');
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      expect(
        await waitFor(() => Promise.resolve(existsSync(kubeconfigOf(join(s.homesRoot, 'first')))), 30_000),
      ).toBe(true);
      await s.dir.addTool({ name: 'second', uidNumber: 62_002 });
      const home = join(s.homesRoot, 'second');
      expect(
        await waitFor(
          async () =>
            existsSync(kubeconfigOf(home)) &&
            (await kubectl(kubeconfigOf(home), ['get', 'configmaps'])).code === 0,
          30_000,
        ),
      ).toBe(true);
      // The sweep runs on its own schedule, besides the sync loop.
      expect(await waitFor(() => Promise.resolve(out.includes('"action":"renew"')), 30_000)).toBe(true);
      const port = Number(/"ops":\{[^}]*"port":(\d+)/.exec(out)?.[1]);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(
        /^kubeusers_certificate_expiration_timestamp_seconds\{kind="tool",name="second"\} \d+/m,
      );
      expect(metrics).toMatch(/^kubeusers_sync_runs_total\{mode="sync",outcome="ok"\} [1-9]/m);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exited;
    daemonOut = out;
    expect(code).toBe(0);
    expect(out).toContain('"msg":"stopped"');
  });
});

describe('kubeusers renew --once and status', () => {
  it('renews what is due and reports it', async () => {
    const r = await cli(['--config', s.configFile, 'renew', '--once']);
    expect(r.code).toBe(0);
    const due = 'tool/first: issue a certificate (due)';
    if (!r.stdout.includes(due)) {
      // A renewal the daemon left unfinished (its state still marked issuing) is adopted instead.
      const told = /"action":"(lead|follow|lease|issue|adopt|renew|stop|sync)"/;
      console.log(
        `the daemon said:\n${daemonOut
          .split('\n')
          .filter((l) => told.test(l))
          .join('\n')}`,
      );
    }
    expect(r.stdout).toContain(due);
    expect(r.stdout).not.toMatch(/apply|delete/);
  });

  it('shows one account as JSON, and fails clearly for an unknown one', async () => {
    const r = await cli(['--config', s.configFile, 'status', 'first', '--json']);
    expect(r.code).toBe(0);
    const [state] = JSON.parse(r.stdout) as { name: string; status: string; serial: string }[];
    expect(state).toMatchObject({ name: 'first', status: 'active' });
    const missing = await cli(['--config', s.configFile, 'status', 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no account named nobody');
  });
});
