// A stranger's flood of the admin API: garbage bearer tokens (shaped like JWTs, so that nothing can
// refuse them unseen) at a fixed rate, from many loopback addresses, so that per-address limits do
// not hide what the flood costs the daemon. Counts what was sent and how it was answered.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { auditEvents, auditOffset } from './measure.ts';

export interface FloodResult {
  sent: number;
  /** Sends skipped because `maxInFlight` requests were still unanswered. */
  skipped: number;
  seconds: number;
  statuses: Record<string, number>;
}

export interface Flood {
  stop(): Promise<FloodResult>;
}

export interface FloodOptions {
  url: string;
  caPem: string;
  perSecond: number;
  /** Source addresses 127.0.1.1 … 127.0.1.<addresses> (Linux routes all of 127/8 to loopback). */
  addresses: number;
  maxInFlight?: number;
}

const garbageToken = (): string =>
  `eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.${randomBytes(180).toString('base64url')}.${randomBytes(256).toString('base64url')}`;

export function startFlood(o: FloodOptions): Flood {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const maxInFlight = o.maxInFlight ?? 2_000;
  const statuses: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let skipped = 0;
  const started = performance.now();
  const one = (i: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = request(
        `${o.url}/api/v1/accounts`,
        {
          agent,
          ca: o.caPem,
          localAddress: `127.0.1.${1 + (i % o.addresses)}`,
          headers: { authorization: `Bearer ${garbageToken()}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const k = String(res.statusCode ?? 0);
            statuses[k] = (statuses[k] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end();
    });
  // Paced by the clock, not by ticks: a starved event loop sends what it owes when it wakes.
  const timer = setInterval(() => {
    const owed = Math.floor(((performance.now() - started) / 1000) * o.perSecond) - sent - skipped;
    for (let i = 0; i < owed; i++) {
      if (pending.size >= maxInFlight) {
        skipped++;
        continue;
      }
      const p = one(sent++);
      pending.add(p);
      void p.then(() => pending.delete(p));
    }
  }, 10);
  return {
    stop: async () => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      await Promise.all(pending);
      agent.destroy();
      return { sent, skipped, seconds, statuses };
    },
  };
}

/** TokenReviews the apiserver logged after `offset`, by any client. */
function tokenReviewsSince(audit: string, offset: number): number {
  return auditEvents(audit, offset).filter((e) => e.resource === 'tokenreviews').length;
}

/**
 * Runs `measure` while a flood goes on (started a second before, so that it is at full rate), and
 * reports the flood's achieved rate and the TokenReviews it caused.
 */
export async function underFlood<T>(
  o: FloodOptions,
  audit: string,
  measure: () => Promise<T>,
): Promise<{ result: T; flood: FloodResult; tokenReviews: number }> {
  const offset = auditOffset(audit);
  const flood = startFlood(o);
  await new Promise((r) => setTimeout(r, 1_000));
  let result: T;
  try {
    result = await measure();
  } catch (err) {
    await flood.stop();
    throw err;
  }
  const done = await flood.stop();
  return { result, flood: done, tokenReviews: tokenReviewsSince(audit, offset) };
}
