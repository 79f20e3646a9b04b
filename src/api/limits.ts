// Rate limits by who is calling. An authenticated caller spends only their own allowance (keyed by
// user name and uid), so nobody can spend an admin's. A request that fails to authenticate spends its
// address's allowance, which is smaller; an address that has used it up gets 429 before the cluster
// is asked about another token. A certificate or a remembered token never needs that question, so a
// stranger on the admin's bastion cannot lock the admin out.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Identity } from './auth.ts';
import { HttpError } from './errors.ts';

export interface LimitSettings {
  /** Per authenticated identity. */
  requestsPerMinute: number;
  /** Per client address, counting only requests that fail to authenticate. */
  unauthenticatedRequestsPerMinute: number;
}

export interface CallerLimits {
  /** Counts a request of an authenticated caller; 429 beyond their allowance. */
  authenticated: RequestHandler;
  /** Counts a request that did not authenticate against its address; 429 beyond the allowance. */
  unauthenticated: RequestHandler;
  /** Throws 429 when the request's address has used up its allowance of failures. */
  refuseSpentAddress(req: Request): Promise<void>;
}

/** One key per identity: the same user name with another uid is someone else. */
export const identityKey = (who: Identity): string => JSON.stringify([who.via, who.user, who.uid ?? '']);
/** IPv6 callers are counted by /56, as one host usually holds many addresses of it. */
export const addressKey = (req: Request): string => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? '');

const WINDOW_MS = 60_000;
const tooMany = (detail: string) => (_req: Request, _res: Response, next: NextFunction) =>
  next(new HttpError(429, 'rate-limited', detail));

export function callerLimits(s: LimitSettings): CallerLimits {
  const authenticated = rateLimit({
    windowMs: WINDOW_MS,
    limit: s.requestsPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (_req, res) => identityKey(res.locals.identity as Identity),
    handler: tooMany('too many requests; slow down'),
  });
  const unauthenticated = rateLimit({
    windowMs: WINDOW_MS,
    limit: s.unauthenticatedRequestsPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: addressKey,
    handler: tooMany('too many unauthenticated requests from this address; slow down'),
  });
  return {
    authenticated,
    unauthenticated,
    refuseSpentAddress: async (req) => {
      const spent = (await unauthenticated.getKey(addressKey(req)))?.totalHits ?? 0;
      if (spent >= s.unauthenticatedRequestsPerMinute)
        throw new HttpError(
          429,
          'rate-limited',
          'too many unauthenticated requests from this address; slow down',
        );
    },
  };
}
