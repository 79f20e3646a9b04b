// The tables of `npm run bench:profile`: process CPU from /proc, audit events grouped by client,
// the signing timeline, and the hottest functions of a V8 .cpuprofile.
import { readFileSync } from 'node:fs';
import type { AuditEvent } from './measure.ts';

/** utime + stime in clock ticks (1/100 s) of each pid; 0 for a process that is gone. */
export function cpuTicks(pids: number[]): number[] {
  return pids.map((pid) => {
    try {
      // The command name may hold spaces; the fields after its closing parenthesis do not.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  });
}

const client = (e: AuditEvent): string =>
  e.agent.startsWith('kubeusers/')
    ? 'kubeusers'
    : e.user.replace('system:serviceaccount:kube-system:', 'kcm:');

export function byClient(events: AuditEvent[]): string {
  const counts = new Map<string, { n: number; latency: number }>();
  for (const e of events) {
    if (e.verb === 'watch') continue;
    const key = `${client(e)} | ${e.verb} ${e.resource}`;
    const c = counts.get(key) ?? { n: 0, latency: 0 };
    c.n++;
    c.latency += e.done - e.at;
    counts.set(key, c);
  }
  const rows = [...counts].sort((a, b) => b[1].n - a[1].n);
  return [
    '| client | request | count | mean latency ms |',
    '| --- | --- | --- | --- |',
    ...rows.map(([k, c]) => `| ${k} | ${c.n} | ${Math.round(c.latency / c.n)} |`),
  ].join('\n');
}

/** Per `step` seconds: CSRs kubeusers created, and status updates the signer made. */
export function signingTimeline(events: AuditEvent[], step: number): string {
  const start = events.reduce((m, e) => Math.min(m, e.at), Infinity);
  const rows: { created: number; signed: number; all: number }[] = [];
  const bucket = (e: AuditEvent) => {
    const i = Math.floor((e.at - start) / 1000 / step);
    while (rows.length <= i) rows.push({ created: 0, signed: 0, all: 0 });
    return rows[i]!;
  };
  for (const e of events) {
    const row = bucket(e);
    row.all++;
    if (client(e) === 'kubeusers' && e.verb === 'create' && e.resource === 'certificatesigningrequests')
      row.created++;
    if (
      e.resource === 'certificatesigningrequests/status' &&
      e.verb === 'update' &&
      client(e) !== 'kubeusers'
    )
      row.signed++;
  }
  return [
    '| from s | CSRs created | CSRs signed | all requests |',
    '| --- | --- | --- | --- |',
    ...rows.map((r, i) => `| ${i * step} | ${r.created} | ${r.signed} | ${r.all} |`),
  ].join('\n');
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const frameName = (f: ProfileNode['callFrame']): string =>
  `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src)\//, '$1/')}:${f.lineNumber + 1}`;

/** The `top` largest of `times` (microseconds by function) as a Markdown table with shares of `all`. */
function timeTable(
  title: string,
  header: string,
  times: Map<string, number>,
  all: number,
  top: number,
): string {
  const rows = [...times].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    title,
    '',
    `| ${header} | share |`,
    '| --- | --- | --- |',
    ...rows.map(
      ([k, us]) =>
        `| ${k.replace(/\|/g, '\\|')} | ${(us / 1e6).toFixed(2)} | ${((100 * us) / all).toFixed(1)} % |`,
    ),
  ].join('\n');
}

/** Time spent in each of kubeusers' own functions, callees included: where a sync's CPU goes. */
export function ourFunctions(file: string, top: number): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((nd) => [nd.id, nd]));
  const parent = new Map<number, number>();
  for (const nd of p.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
  const total = new Map<string, number>();
  let all = 0;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    const f = byId.get(id)?.callFrame;
    if (!f || f.functionName === '(idle)') return;
    all += us;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (!/\/dist\//.test(frame.url)) continue;
      const key = frameName(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + us);
    }
  });
  return timeTable(
    `${(all / 1e6).toFixed(2)} s of CPU sampled (idle left out).`,
    'function (callees included) | s',
    total,
    all,
    top,
  );
}

/** Self time by function, from the samples of a V8 CPU profile. */
export function hotFunctions(file: string, top: number): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frame = new Map(p.nodes.map((nd) => [nd.id, nd.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const f = frame.get(id);
    const us = p.timeDeltas[i] ?? 0;
    total += us;
    if (!f) return;
    const key = frameName(f);
    self.set(key, (self.get(key) ?? 0) + us);
  });
  return timeTable(`Profiled ${(total / 1e6).toFixed(1)} s.`, 'function | self s', self, total, top);
}

/** For each CSR kubeusers made: median and p90 of the time between the steps of its life. */
export function csrPhases(events: AuditEvent[]): string {
  const steps = new Map<string, Record<string, number>>();
  const mark = (name: string, step: string, at: number) => {
    const s = steps.get(name) ?? {};
    s[step] ??= at;
    steps.set(name, s);
  };
  for (const e of events) {
    if (!e.resource.startsWith('certificatesigningrequests') || !e.name) continue;
    const step =
      e.verb === 'create'
        ? 'created'
        : e.resource.endsWith('/approval')
          ? 'approved'
          : e.resource.endsWith('/status')
            ? 'signed'
            : e.verb === 'watch'
              ? 'watching'
              : e.verb === 'delete'
                ? 'deleted'
                : undefined;
    if (step) mark(e.name, step, e.at);
  }
  const pairs: [string, string][] = [
    ['created', 'approved'],
    ['approved', 'watching'],
    ['approved', 'signed'],
    ['signed', 'deleted'],
  ];
  const rows = pairs.map(([a, b]) => {
    const d = [...steps.values()]
      .filter((s) => s[a] !== undefined && s[b] !== undefined)
      .map((s) => s[b]! - s[a]!)
      .sort((x, y) => x - y);
    const q = (p: number) => d[Math.min(d.length - 1, Math.floor(p * d.length))] ?? NaN;
    return `| ${a} → ${b} | ${d.length} | ${q(0.5)} | ${q(0.9)} | ${q(1)} |`;
  });
  return ['| step | CSRs | p50 ms | p90 ms | max ms |', '| --- | --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

/** Every request that named one account's objects, in order, with times from the first. */
export function oneAccount(events: AuditEvent[], account: string): string {
  const mine = events.filter(
    (e) =>
      (e.name.includes(account) && e.verb !== 'watch') || (e.verb === 'watch' && e.name.includes(account)),
  );
  const start = mine.reduce((m, e) => Math.min(m, e.at), Infinity);
  return [
    '| at ms | took ms | client | request | object |',
    '| --- | --- | --- | --- | --- |',
    ...mine
      .sort((a, b) => a.at - b.at)
      .map(
        (e) => `| ${e.at - start} | ${e.done - e.at} | ${client(e)} | ${e.verb} ${e.resource} | ${e.name} |`,
      ),
  ].join('\n');
}
