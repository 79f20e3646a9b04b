// How a benchmark measures: a process under GNU time (wall, CPU, peak RSS), API requests counted
// from the apiserver's audit log by user agent, and percentiles.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';

export interface Usage {
  code: number | null;
  wall_s: number;
  cpu_s: number;
  rss_mb: number;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` under /usr/bin/time; its report goes to a file descriptor of its own. */
export function timed(node: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Usage> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '@@TIME %U %S %M', node, ...args], {
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /@@TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
      resolve({
        code,
        wall_s: (performance.now() - started) / 1000,
        cpu_s: m ? Number(m[1]) + Number(m[2]) : NaN,
        rss_mb: m ? Number(m[3]) / 1024 : NaN,
        stdout,
        stderr: stderr.replace(/@@TIME.*\n?/, ''),
      });
    });
  });
}

export interface AuditEvent {
  user: string;
  agent: string;
  verb: string;
  resource: string;
  /** Object name, with its namespace when it has one. */
  name: string;
  at: number;
  done: number;
}

export const auditOffset = (file: string): number => statSync(file).size;

type ObjectRef = { resource?: string; subresource?: string; name?: string; namespace?: string };

function objectOf(ref: ObjectRef | undefined): { resource: string; name: string } {
  const resource = ref?.resource ? ref.resource + (ref.subresource ? `/${ref.subresource}` : '') : '(none)';
  return { resource, name: [ref?.namespace, ref?.name].filter(Boolean).join('/') };
}

export function auditEvents(file: string, offset: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  const text = readFileSync(file).subarray(offset).toString('utf8');
  // The apiserver may be writing a line this moment: only complete lines count.
  for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as {
      stage: string;
      verb: string;
      user?: { username?: string };
      userAgent?: string;
      objectRef?: ObjectRef;
      requestReceivedTimestamp: string;
      stageTimestamp: string;
    };
    if (e.stage !== 'ResponseComplete') continue;
    out.push({
      user: e.user?.username ?? '',
      agent: (e.userAgent ?? '').split(' ')[0] ?? '',
      verb: e.verb,
      ...objectOf(e.objectRef),
      at: new Date(e.requestReceivedTimestamp).getTime(),
      done: new Date(e.stageTimestamp).getTime(),
    });
  }
  return out;
}

/** Requests whose user agent starts with `agent`, logged after `offset`. */
export const audited = (file: string, offset: number, agent: string): AuditEvent[] =>
  auditEvents(file, offset).filter((e) => e.agent.startsWith(agent));

/** The most requests that arrived in any one-second window. */
export function peakRate(requests: AuditEvent[]): number {
  const times = requests.map((r) => r.at).sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
