// Rate limits by who is calling. An authenticated caller spends only their own allowance (keyed by
// user name and uid), so nobody can spend an admin's. A request that fails to authenticate spends its
// address's allowance, which is smaller; reviews in flight count against it too, so an address never
// gets more reviews than its allowance, and once it is spent the address gets 429 before the cluster
// is asked about another token. A certificate or a remembered token needs no review, so a stranger on
// the admin's bastion cannot lock the admin out.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Clock } from '../clock.ts';
import type { Identity } from './auth.ts';
import { HttpError } from './errors.ts';

export interface LimitSettings {
  /** Per authenticated identity. */
  requestsPerMinute: number;
  /** Per client address, counting only requests that fail to authenticate. */
  unauthenticatedRequestsPerMinute: number;
  /** Per authenticated identity, for credential reviews only (answered from memory). */
  credentialReviewsPerMinute: number;
}

/** One key per identity: the same user name with another uid is someone else. */
export const identityKey = (who: Identity): string => JSON.stringify([who.via, who.user, who.uid ?? '']);
/** IPv6 callers are counted by /56, as one host usually holds many addresses of it. */
export const addressKey = (req: Request): string => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? '');

export const WINDOW_MS = 60_000;

interface Window {
  start: number;
  failures: number;
  reviewing: number;
}

/**
 * Failed authentications per address in fixed windows, with the reviews in flight: pure state with
 * an injected clock.
 */
export class FailureAllowance {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #windows = new Map<string, Window>();

  constructor(limit: number, windowMs: number, clock: Clock) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#clock = clock;
  }

  #window(key: string): Window {
    const now = this.#clock.now().getTime();
    let w = this.#windows.get(key);
    if (!w) {
      if (this.#windows.size >= 10_000) this.#prune(now);
      w = { start: now, failures: 0, reviewing: 0 };
      this.#windows.set(key, w);
    } else if (now - w.start >= this.#windowMs) {
      w.start = now;
      w.failures = 0;
    }
    return w;
  }

  #prune(now: number): void {
    for (const [k, w] of this.#windows)
      if (w.reviewing === 0 && now - w.start >= this.#windowMs) this.#windows.delete(k);
  }

  /** Reserves one review for the address; false when its failures and reviews in flight fill the allowance. */
  reserve(key: string): boolean {
    const w = this.#window(key);
    if (w.failures + w.reviewing >= this.#limit) return false;
    w.reviewing++;
    return true;
  }

  /** A reserved review is over; its outcome, when a failure, is counted by fail(). */
  release(key: string): void {
    const w = this.#windows.get(key);
    if (w && w.reviewing > 0) w.reviewing--;
  }

  /** Counts a failed authentication; true when the address has gone beyond its allowance. */
  fail(key: string): boolean {
    const w = this.#window(key);
    w.failures++;
    return w.failures > this.#limit;
  }
}

export interface CallerLimits {
  /** Counts a request of an authenticated caller; 429 beyond their allowance. */
  authenticated: RequestHandler;
  /** The same for credential reviews, on an allowance of their own. */
  reviews: RequestHandler;
  /** Whether this identity has spent its allowance (checked before the reads authentication makes). */
  spent(who: Identity): Promise<boolean>;
  /** For the unauthenticated OpenAPI document: the per-identity rate, per address. */
  document: RequestHandler;
  /** Before and after a token review of this request. */
  gate(req: Request): { reserve(): void; release(): void };
  /** The error to answer for a failed authentication: 429 once the address is beyond its allowance. */
  failed(req: Request, err: unknown): unknown;
}

const SPENT = 'too many unauthenticated requests from this address; slow down';
/**
 * A 429 that says when to come back. express-rate-limit writes Retry-After only with its standard or
 * legacy headers, which credential reviews go without: then it is written here, from the window's end.
 */
const tooMany = (detail: string, clock: Clock) => (req: Request, res: Response, next: NextFunction) => {
  const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
  if (reset && !res.hasHeader('Retry-After'))
    res.setHeader(
      'Retry-After',
      String(Math.max(1, Math.ceil((reset.getTime() - clock.now().getTime()) / 1000))),
    );
  next(new HttpError(429, 'rate-limited', detail));
};

export function callerLimits(s: LimitSettings, clock: Clock): CallerLimits {
  const common = { windowMs: WINDOW_MS, standardHeaders: 'draft-8', legacyHeaders: false } as const;
  const allowance = new FailureAllowance(s.unauthenticatedRequestsPerMinute, WINDOW_MS, clock);
  const authenticated = rateLimit({
    ...common,
    limit: s.requestsPerMinute,
    keyGenerator: (_req, res) => identityKey(res.locals.identity as Identity),
    handler: tooMany('too many requests; slow down', clock),
  });
  return {
    authenticated,
    // A gateway reads no RateLimit headers, and their partition key is a digest per answer.
    reviews: rateLimit({
      ...common,
      standardHeaders: false,
      limit: s.credentialReviewsPerMinute,
      keyGenerator: (_req, res) => identityKey(res.locals.identity as Identity),
      handler: tooMany('too many credential reviews; slow down', clock),
    }),
    spent: async (who) =>
      ((await authenticated.getKey(identityKey(who)))?.totalHits ?? 0) >= s.requestsPerMinute,
    document: rateLimit({
      ...common,
      limit: s.requestsPerMinute,
      keyGenerator: addressKey,
      handler: tooMany('too many requests; slow down', clock),
    }),
    gate: (req) => {
      const key = addressKey(req);
      return {
        reserve: () => {
          if (!allowance.reserve(key)) throw new HttpError(429, 'rate-limited', SPENT);
        },
        release: () => allowance.release(key),
      };
    },
    failed: (req, err) =>
      allowance.fail(addressKey(req)) ? new HttpError(429, 'rate-limited', SPENT, { cause: err }) : err,
  };
}
