import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { snapshotHome } from '../api/support.ts';
import { processesMentioning } from '../../env/proc.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const dataDir = mkdtempSync(join(tmpdir(), 'kubeusers-local-test-'));
const started: ChildProcess[] = [];
afterAll(async () => {
  // A failed test must not leave a platform running: stop what is left, then make sure.
  for (const c of started.filter((c) => c.exitCode === null && c.signalCode === null)) {
    c.kill('SIGINT');
    await new Promise((r) => c.once('exit', r));
  }
  for (const pid of processesMentioning(dataDir)) process.kill(pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface Local {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function start(...args: string[]): Local {
  const child = spawn(process.execPath, [join(repo, 'test', 'env', 'local.ts'), '--dir', dataDir, ...args], { cwd: repo, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('timed out');
}

/** Runs a command the guide printed, the way a person would paste it into a shell in the repository. */
function sh(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd: repo, env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const guided = (out: string, pattern: RegExp): string => {
  const line = out.split('\n').find((l) => l.startsWith('  $ ') && pattern.test(l));
  if (!line) throw new Error(`the guide has no command matching ${pattern}`);
  return line.slice(4);
};

describe('npm start: the local platform', () => {
  it('follows its own guide: kubectl as a tool, add a tool, revoke it, stop with nothing left', async () => {
    const local = start('--keep');
    await until(() => local.out().includes('\nready'), 120_000);
    const out = local.out();

    const whoami = await sh(guided(out, /auth whoami/));
    expect(whoami.stdout).toMatch(/tools\.alpha/);

    // A second start on the same data fails at once, clearly, and leaves the first alone.
    const second = start();
    expect(await second.exited).toBe(1);
    expect(second.out()).toMatch(/already running \(pid \d+\)/);

    const add = await sh(guided(out, /add-tool/).replace('mytool', 'newtool'));
    expect(add.code).toBe(0);
    const home = join(dataDir, 'env', 'homes', 'newtool');
    await until(async () => existsSync(join(home, '.kube', 'config')) && (await sh(`${guided(out, /auth whoami/).split(' --kubeconfig ')[0]} --kubeconfig ${join(home, '.kube', 'config')} get configmaps`)).code === 0, 30_000);

    const leaked = snapshotHome(home, mkdtempSync(join(tmpdir(), 'kubeusers-leak-')));
    const revoke = await sh(guided(out, /revoke alpha/).replace('revoke alpha', 'revoke newtool'));
    expect(revoke.stderr).toBe('');
    expect(revoke.stdout).toMatch(/^revoked tool\/newtool/);
    const denied = await sh(`${guided(out, /auth whoami/).split(' --kubeconfig ')[0]} --kubeconfig ${leaked} get configmaps -n tool-newtool`);
    expect(denied.stderr).toMatch(/forbidden/i);

    const metrics = await sh(guided(out, /curl/));
    expect(metrics.stdout).toMatch(/^kubeusers_certificate_expiration_timestamp_seconds\{kind="tool",name="alpha"\}/m);

    local.child.kill('SIGINT');
    expect(await local.exited).toBe(0);
    expect(processesMentioning(dataDir)).toEqual([]);
    const log = readFileSync(join(dataDir, 'kubeusers.log'), 'utf8');
    expect(log).toContain('"action":"revoke"');
    expect(log).not.toMatch(/-----BEGIN/);
    expect(log).not.toContain(readFileSync(join(dataDir, 'env', 'ldap', 'bind-password'), 'utf8'));
  });

  it('starts warm on the kept data, where the old credentials still work', async () => {
    const local = start('--keep');
    await until(() => local.out().includes('\nready'), 60_000);
    expect(local.out()).toMatch(/warm, kept data/);
    expect(local.out()).toMatch(/up in \d+\.\d s/);
    const kubectlPath = guided(local.out(), /auth whoami/).split(' --kubeconfig ')[0]!;
    const r = await sh(`${kubectlPath} --kubeconfig ${join(dataDir, 'env', 'homes', 'bravo', '.kube', 'config')} get configmaps`);
    expect(r.stderr).toBe('');
    local.child.kill('SIGINT');
    expect(await local.exited).toBe(0);
    expect(processesMentioning(dataDir)).toEqual([]);
  });
});
