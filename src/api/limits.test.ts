import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import express, { type NextFunction, type Request, type Response } from 'express';
import { HttpError } from './errors.ts';
import { callerLimits, FailureAllowance } from './limits.ts';

function clockAt(ms: number): { now(): Date; t: number } {
  const c = { t: ms, now: () => new Date(c.t) };
  return c;
}

type Step = ['reserve' | 'release' | 'fail', boolean | null] | ['wait', number];

describe('FailureAllowance (limit 2 a minute)', () => {
  const cases: [string, Step[]][] = [
    [
      'failures up to the limit, then beyond it',
      [
        ['fail', false],
        ['fail', false],
        ['fail', true],
        ['reserve', false],
      ],
    ],
    [
      'reviews in flight fill the allowance',
      [
        ['reserve', true],
        ['reserve', true],
        ['reserve', false],
        ['release', null],
        ['reserve', true],
      ],
    ],
    [
      'a review that succeeded costs nothing',
      [
        ['reserve', true],
        ['release', null],
        ['reserve', true],
        ['release', null],
        ['reserve', true],
        ['release', null],
        ['fail', false],
        ['fail', false],
        ['reserve', false],
      ],
    ],
    [
      'a new window forgives',
      [
        ['fail', false],
        ['fail', false],
        ['reserve', false],
        ['wait', 60_000],
        ['reserve', true],
      ],
    ],
  ];
  it.each(cases)('%s', (_, steps) => {
    const clock = clockAt(0);
    const a = new FailureAllowance(2, 60_000, clock);
    const seen = steps.map(([op, arg]) => {
      if (op === 'wait') {
        clock.t += arg;
        return arg;
      }
      if (op === 'release') {
        a.release('10.0.0.1');
        return null;
      }
      return op === 'reserve' ? a.reserve('10.0.0.1') : a.fail('10.0.0.1');
    });
    expect(seen).toEqual(steps.map(([, arg]) => arg));
  });

  it('keeps addresses apart', () => {
    const a = new FailureAllowance(1, 60_000, clockAt(0));
    a.fail('10.0.0.1');
    expect([a.reserve('10.0.0.1'), a.reserve('10.0.0.2')]).toEqual([false, true]);
  });
});

describe('callerLimits: a caller beyond its allowance', () => {
  const limits = callerLimits(
    { requestsPerMinute: 1, unauthenticatedRequestsPerMinute: 1, credentialReviewsPerMinute: 1 },
    // express-rate-limit's windows run on the real clock; so does the daemon's.
    { now: () => new Date() },
  );
  it.each([
    { name: 'credential reviews (no RateLimit headers)', allowance: limits.reviews, rateLimitHeader: false },
    { name: 'other requests', allowance: limits.authenticated, rateLimitHeader: true },
  ])('$name: 429 with Retry-After', async ({ allowance, rateLimitHeader }) => {
    const app = express();
    app.use((_req: Request, res: Response, next: NextFunction) => {
      res.locals.identity = { via: 'certificate', user: 'gateway', groups: [] };
      next();
    });
    app.get('/r', allowance, (_req: Request, res: Response) => {
      res.send('ok');
    });
    app.use((err: HttpError, _req: Request, res: Response, _next: NextFunction) => {
      res.status(err.status).send(err.code);
    });
    const server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/r`;
      const first = await fetch(url);
      const second = await fetch(url);
      expect([first.status, second.status, await second.text()]).toEqual([200, 429, 'rate-limited']);
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(second.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(first.headers.has('ratelimit')).toBe(rateLimitHeader);
    } finally {
      server.close();
    }
  });
});
