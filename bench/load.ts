// A steady load on the admin API over a few keep-alive connections, each sending its next request
// when the previous answer is in (the way nginx's auth_request reuses its upstream connections).
// Counts the answers by status and keeps every latency.
import { Agent, request } from 'node:https';
import { percentile, round } from './measure.ts';

export interface LoadOptions {
  /** The URL of the i-th request. */
  url: (i: number) => string;
  ca: string;
  /** The caller's client certificate, or a bearer token in `headers`. */
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  sent: number;
  statuses: Record<string, number>;
  /** Answers with a 2xx status, a second. */
  rps: number;
  p50_ms: number;
  p99_ms: number;
}

export interface Answer {
  status: string;
  ms: number;
  body: string;
}

/** One GET, on `agent` when given: its status, how long it took (milliseconds) and its body. */
export function once(o: Omit<LoadOptions, 'url'>, url: string, agent?: Agent): Promise<Answer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(
      url,
      {
        ...(agent ? { agent } : {}),
        ca: o.ca,
        ...(o.cert ? { cert: o.cert, key: o.key } : {}),
        headers: o.headers ?? {},
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({ status: String(res.statusCode ?? 0), ms: performance.now() - started, body }),
        );
      },
    );
    req.on('error', (err) =>
      resolve({ status: 'error', ms: performance.now() - started, body: err.message }),
    );
    req.end();
  });
}

export async function keepAliveLoad(o: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  let i = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const r = await once(o, o.url(i++), agent);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      latencies.push(r.ms);
    }
  };
  await Promise.all(Array.from({ length: o.connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const ok = Object.entries(statuses)
    .filter(([s]) => s.startsWith('2'))
    .reduce((a, [, c]) => a + c, 0);
  return {
    sent: latencies.length,
    statuses,
    rps: round(ok / seconds, 0),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
  };
}
