// Scenarios on a daemon whose periodic full sync comes every second: the resync with nothing
// changed, as it runs every interval (no LDAP change starts it), and the admin API's reads and
// credential reviews while those syncs run, with the syncs' own duration compared to quiet.
import { Agent } from 'node:https';
import { auditOffset, percentile, round } from './measure.ts';
import { daemonRequests, scrapeCost, syncMetrics, ticksOf } from './daemon.ts';
import { keepAliveLoad, once, type LoadOptions, type LoadResult } from './load.ts';
import { skipped, type Scenario } from './scenario.ts';

/** The interval of the daemon these scenarios run on: syncs nearly back to back. */
export const RESYNC_INTERVAL_S = 1;
export const REVIEW_PATH = '/api/v1/credential-reviews';
/**
 * The header that carries the certificate to review, as nginx sends `$ssl_client_escaped_cert`
 * (the PEM, URL-escaped). Issue 16's gateway work decides the name; keep the two in step.
 */
export const REVIEW_HEADER = 'x-client-certificate';

export interface Caller {
  url: string;
  ca: string;
  cert?: string;
  key?: string;
  token?: string;
}

export interface ResyncContext {
  n: number;
  pid: number;
  opsPort: number;
  audit: string;
  /** Seconds of each load; periodic syncs measured. */
  seconds: number;
  runs: number;
  connections: number;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `runs` consecutive periodic syncs with nothing changed: wall from the daemon's own histogram, CPU
 * from /proc (the daemon's idle work between syncs included; the /metrics scrapes taken off), and
 * requests from the audit log (lease renewals aside), each per sync.
 */
export async function periodicResync(c: ResyncContext): Promise<Scenario> {
  const scrape = await scrapeCost(c.pid, c.opsPort);
  const before = await syncMetrics(c.opsPort);
  const offset = auditOffset(c.audit);
  const ticks = ticksOf(c.pid);
  let after = before;
  let scrapes = 0;
  while (after.runs < before.runs + c.runs) {
    await pause(1_000);
    after = await syncMetrics(c.opsPort);
    scrapes++;
  }
  const runs = after.runs - before.runs;
  return {
    name: 'resync',
    n: c.n,
    runs,
    wall_s: round((after.seconds - before.seconds) / runs, 3),
    cpu_s: round((ticksOf(c.pid) - ticks - scrapes * scrape) / 100 / runs, 3),
    api_requests: round(daemonRequests(c.audit, offset) / runs, 1),
  };
}

/** A load on the API while the periodic syncs go on; the syncs' mean duration over the quiet one. */
async function underSyncs(
  c: ResyncContext,
  quietWall: number,
  load: () => Promise<LoadResult>,
): Promise<{ result: LoadResult; sync_ratio?: number }> {
  const before = await syncMetrics(c.opsPort);
  const result = await load();
  const after = await syncMetrics(c.opsPort);
  const runs = after.runs - before.runs;
  if (runs === 0 || !(quietWall > 0)) return { result };
  return { result, sync_ratio: round((after.seconds - before.seconds) / runs / quietWall) };
}

const loadOptions = (caller: Caller, c: ResyncContext): Omit<LoadOptions, 'url'> => ({
  ca: caller.ca,
  ...(caller.cert ? { cert: caller.cert, key: caller.key! } : {}),
  ...(caller.token ? { headers: { authorization: `Bearer ${caller.token}` } } : {}),
  connections: c.connections,
  seconds: c.seconds,
});

function row(name: string, c: ResyncContext, r: { result: LoadResult; sync_ratio?: number }): Scenario {
  const failed = Object.entries(r.result.statuses).filter(([s]) => !s.startsWith('2'));
  if (failed.length) throw new Error(`${name}: answers ${JSON.stringify(r.result.statuses)}`);
  return {
    name,
    n: c.n,
    rps: r.result.rps,
    p50_ms: r.result.p50_ms,
    p99_ms: r.result.p99_ms,
    connections: c.connections,
    ...(r.sync_ratio === undefined ? {} : { sync_ratio: r.sync_ratio }),
  };
}

/**
 * Credential reviews of one tool's certificate by a gateway (the caller), through keep-alive
 * connections, while the syncs run. Skipped while the endpoint is missing (answers 404).
 */
export async function credentialReviews(
  c: ResyncContext,
  quietWall: number,
  gateway: Caller,
  certPem: string,
): Promise<Scenario> {
  const base = loadOptions(gateway, c);
  const headers = { ...base.headers, [REVIEW_HEADER]: encodeURIComponent(certPem) };
  const url = `${gateway.url}${REVIEW_PATH}`;
  const probe = await once({ ...base, headers }, url);
  if (probe.status === '404')
    return skipped(
      'credential-reviews',
      c.n,
      `${REVIEW_PATH} answers 404: the credential review endpoint (issue 16) is not in this build`,
    );
  if (!probe.status.startsWith('2'))
    throw new Error(`credential review answered ${probe.status}: ${probe.body.slice(0, 300)}`);
  const r = await underSyncs(c, quietWall, () => keepAliveLoad({ ...base, headers, url: () => url }));
  return row('credential-reviews', c, r);
}

/** An admin's `GET /api/v1/accounts/<name>`, over every tool in turn, while the syncs run. */
export async function accountReads(
  c: ResyncContext,
  quietWall: number,
  admin: Caller,
  toolName: (i: number) => string,
): Promise<Scenario> {
  const r = await underSyncs(c, quietWall, () =>
    keepAliveLoad({
      ...loadOptions(admin, c),
      url: (i) => `${admin.url}/api/v1/accounts/${toolName(i % c.n)}`,
    }),
  );
  return row('admin-get', c, r);
}

/** The whole account listing, page after page of 500, one listing at a time: its duration. */
export async function fullListing(c: ResyncContext, admin: Caller, times: number): Promise<Scenario> {
  const o = { ...loadOptions(admin, c), connections: 1 };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const durations: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    let cursor: string | undefined;
    let items = 0;
    do {
      const q = cursor ? `&continue=${encodeURIComponent(cursor)}` : '';
      const a = await once(o, `${admin.url}/api/v1/accounts?limit=500${q}`, agent);
      if (a.status !== '200') throw new Error(`listing answered ${a.status}: ${a.body.slice(0, 300)}`);
      const page = JSON.parse(a.body) as { items: unknown[]; continue?: string };
      items += page.items.length;
      cursor = page.continue;
    } while (cursor);
    if (items < c.n) throw new Error(`the listing held ${items} accounts of ${c.n}`);
    durations.push(performance.now() - started);
  }
  agent.destroy();
  return {
    name: 'admin-list',
    n: c.n,
    runs: times,
    p50_ms: round(percentile(durations, 50)),
    p99_ms: round(percentile(durations, 99)),
  };
}
