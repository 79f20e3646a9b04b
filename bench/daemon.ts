// Looking at a running daemon from outside: its peak memory and CPU from /proc, its own sync
// metrics, and the requests it made from the audit log.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { waitUntil } from '../test/env/proc.ts';
import { audited, auditOffset, round } from './measure.ts';
import { cpuTicks } from './profile-report.ts';
import type { Scenario } from './scenario.ts';

/** The process's peak resident set so far (VmHWM), in MB. */
export function peakRss(pid: number): number {
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(kb) / 1024;
}

/**
 * The daemon's /metrics. A kept-alive connection the daemon closed just then fails the request
 * (ECONNRESET, seen under the flood on a saturated machine): asked again, twice at most.
 */
export async function metricsText(opsPort: number): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    } catch (err) {
      if (attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function synced(opsPort: number): Promise<boolean> {
  return /^kubeusers_sync_last_success_timestamp_seconds\{mode="sync"\}/m.test(await metricsText(opsPort));
}

/**
 * A sample of the daemon's own metrics: syncs of these modes so far and their total duration (full
 * syncs are mode `sync`; one account's, started by a directory change, mode `one`).
 */
export async function syncMetrics(
  opsPort: number,
  modes: readonly ('sync' | 'one')[] = ['sync'],
): Promise<{ runs: number; seconds: number }> {
  const text = await metricsText(opsPort);
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  const mode = `(?:${modes.join('|')})`;
  return {
    runs: sum(new RegExp(`^kubeusers_sync_runs_total\\{mode="${mode}",[^}]*\\} (\\S+)$`, 'gm')),
    seconds: sum(new RegExp(`^kubeusers_sync_duration_seconds_sum\\{mode="${mode}"\\} (\\S+)$`, 'gm')),
  };
}

export const ticksOf = (pid: number): number => cpuTicks([pid])[0]!;

/** The CPU ticks one /metrics scrape costs the daemon (median of five), to take off a measurement. */
export async function scrapeCost(pid: number, opsPort: number): Promise<number> {
  const costs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = ticksOf(pid);
    await syncMetrics(opsPort);
    costs.push(ticksOf(pid) - t);
  }
  return costs.sort((a, b) => a - b)[2]!;
}

/** Requests of kubeusers' clients after `offset`, lease renewals aside. */
export const daemonRequests = (audit: string, offset: number): number =>
  audited(audit, offset, 'kubeusers/').filter((e) => e.resource !== 'leases').length;

/** The daemon's wall time, CPU, peak RSS and requests (lease renewals aside) from now until called. */
export function daemonUsage(
  pid: number,
  audit: string,
): () => Pick<Scenario, 'wall_s' | 'cpu_s' | 'rss_mb' | 'api_requests'> {
  const started = performance.now();
  const ticks = ticksOf(pid);
  const offset = auditOffset(audit);
  return () => ({
    wall_s: round((performance.now() - started) / 1000),
    cpu_s: round((ticksOf(pid) - ticks) / 100),
    rss_mb: round(peakRss(pid), 0),
    api_requests: daemonRequests(audit, offset),
  });
}

const stopping = new WeakSet<ChildProcess>();

/**
 * Starts `kubeusers run` with `config` and returns it once it answers /readyz and has finished its
 * first sync (so that what is measured next starts from a converged cluster).
 */
export async function startDaemon(node: string[], config: string, opsPort: number): Promise<ChildProcess> {
  const daemon = spawn(process.execPath, [...node, '--config', config, 'run'], {
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Its last words, said if it exits before it is stopped.
  let said = '';
  daemon.stderr.on('data', (c: Buffer) => (said = (said + c.toString()).slice(-2_000)));
  daemon.once('exit', (code, signal) => {
    if (!stopping.has(daemon)) console.error(`the daemon exited (${code ?? signal}): ${said}`);
  });
  try {
    await waitUntil('daemon', async () => (await fetch(`http://127.0.0.1:${opsPort}/readyz`)).ok, {
      timeoutMs: 120_000,
    });
    await waitUntil('first sync', async () => synced(opsPort), { timeoutMs: 600_000 });
  } catch (err) {
    await stopDaemon(daemon);
    throw err;
  }
  return daemon;
}

export async function stopDaemon(daemon: ChildProcess): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return;
  stopping.add(daemon);
  const exited = new Promise((r) => daemon.once('exit', r));
  daemon.kill('SIGTERM');
  await exited;
}
