// The admin API: an express 5 app built from its dependencies. Served over HTTPS by server.ts.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AccountKind } from '../model/account.ts';
import type { AccountState } from '../model/state.ts';
import type { Revocation } from '../cluster/ledger.ts';
import type { Logger } from '../log.ts';
import type { Authorizer, Resource, Target, Verb } from './access-review.ts';
import { authenticate, type AuthDeps, type Identity } from './auth.ts';
import { jsonBody } from './body.ts';
import { claimedByCertificate } from './peer-certificate.ts';
import { forwardedCaller, hopFailed, relay, type ForwardDeps } from './forward.ts';
import { HttpError, problemHandler } from './errors.ts';
import { callerLimits, type LimitSettings } from './limits.ts';
import { openApiDocument } from './openapi.ts';
import { credentialReview, type ReviewDeps } from './review-route.ts';
import { feedPage } from './revocations.ts';
import { accountView, ListingPages } from './listing.ts';

export interface AuditEntry {
  time: string;
  reason: string;
  message: string;
}

export interface ApiDeps {
  log: Logger;
  auth: AuthDeps;
  authorizer: Authorizer;
  accounts: {
    /**
     * Every account, in `accountOrder` (the listing pages through it as it is). The listing keeps its
     * rendered pages per array: one handed out again must be unchanged (a change, a new array).
     */
    list(): Promise<readonly AccountState[]>;
    get(kind: AccountKind, name: string): Promise<AccountState | undefined>;
    audit(kind: AccountKind, name: string): Promise<AuditEntry[]>;
  };
  revocations(filter: { kind?: AccountKind; account?: string }): Promise<Revocation[]>;
  /** Credential reviews, answered from memory on every replica. */
  reviews: ReviewDeps;
  revoke(req: {
    kind: AccountKind;
    name: string;
    actor: string;
    reason: string;
    reissue: boolean;
  }): Promise<Revocation>;
  /** Queues a forced reissue through the reconcile path. */
  renew(kind: AccountKind, name: string): void;
  /** Only the leader writes; a follower hands writes to it (`url`, with `forward`) or answers 503 naming it. */
  writable(): { ok: true } | { ok: false; leader?: string; url?: string };
  /** Set, writes reaching a follower are carried out by the leader over an authenticated hop (ADR 25). */
  forward?: ForwardDeps;
  bodyLimitBytes: number;
  limits: LimitSettings;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const STATES = ['active', 'locked', 'revoked', 'pending', 'error'] as const;

const listQuery = z.strictObject({
  kind: z.enum(['tool', 'admin']).optional(),
  state: z.enum(STATES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  continue: z.string().max(200).optional(),
});
const kindQuery = z.strictObject({ kind: z.enum(['tool', 'admin']).default('tool') });
const revokeBody = z.strictObject({
  reason: z.string().trim().min(1).max(1000),
  reissue: z.boolean().default(true),
});
const ledgerQuery = z.strictObject({
  kind: z.enum(['tool', 'admin']).optional(),
  account: z.string().regex(NAME).max(63).optional(),
});
const feedQuery = z.strictObject({
  since: z.string().max(200),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? `${what}.${issue.path.join('.')}` : what;
  throw new HttpError(
    400,
    issue?.code === 'unrecognized_keys' ? 'unknown-field' : 'invalid-request',
    `${where}: ${issue?.message ?? 'invalid'}`,
  );
}

function nameOf(req: Request): string {
  const name = req.params.name;
  if (typeof name !== 'string' || name.length > 63 || !NAME.test(name)) {
    throw new HttpError(400, 'invalid-name', 'an account name is a DNS-1123 label of at most 63 characters');
  }
  return name;
}

const who = (res: Response): Identity => res.locals.identity as Identity;
/** Relative to the /api mount, as the middleware there sees it. */
const REVIEW_PATH = '/v1/credential-reviews';
type Handler = (req: Request, res: Response) => Promise<void>;
const WRITES: ReadonlySet<Verb> = new Set<Verb>(['revoke', 'renew']);

/**
 * Where a request is carried out: here; at the leader, its answer passed back as it came; or nowhere
 * (503). A request that came over the hop is never passed on again, and only writes come over it.
 */
async function placed(d: ApiDeps, verb: Verb, req: Request, res: Response): Promise<'here' | 'relayed'> {
  const forwarded = who(res).forwardedBy !== undefined;
  if (forwarded && !WRITES.has(verb))
    throw new HttpError(403, 'forward-refused', 'only revoke and renew are forwarded');
  const w = d.writable();
  if (!WRITES.has(verb) || w.ok) return 'here';
  if (d.forward && !forwarded && w.url) {
    const reply = await relay(req, w.url, d.forward).catch((err: unknown) => {
      throw hopFailed(w.leader, err);
    });
    res.status(reply.status).set('content-type', reply.contentType).send(reply.body);
    return 'relayed';
  }
  throw new HttpError(
    503,
    'not-leader',
    `this replica is not the leader${w.leader ? `; the leader is ${w.leader}` : ''}; retry there`,
  );
}

export function createApiApp(d: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // No client of this API sends If-None-Match, and a digest of every answer was ~1.5 % of a review.
  app.set('etag', false);
  app.set('query parser', 'simple');
  const limits = callerLimits(d.limits, d.auth.clock);
  app.get('/api/v1/openapi.json', limits.document, (_req, res) => {
    res.json(openApiDocument);
  });
  app.use('/api', (req: Request, res: Response, next: NextFunction) => {
    const run = async (): Promise<void> => {
      // A certificate names its holder before anything is read for it: one that has spent its
      // allowance is refused here, at no cost to the cluster (and not as a failed authentication).
      const claimed = claimedByCertificate(req, d.auth.clock.now());
      if (claimed && (await limits.spent(claimed)))
        throw new HttpError(429, 'rate-limited', 'too many requests; slow down');
      let identity: Identity;
      try {
        const direct = (): Promise<Identity> => authenticate(req, d.auth, limits.gate(req));
        identity = d.forward
          ? await forwardedCaller(req, d.forward, direct, limits.gate(req))
          : await direct();
      } catch (err) {
        throw limits.failed(req, err);
      }
      res.locals.identity = identity;
      // A gateway asks once per request it serves: reviews have an allowance of their own.
      const allowance = req.path === REVIEW_PATH ? limits.reviews : limits.authenticated;
      await allowance(req, res, next);
    };
    run().catch(next);
  });
  const json = jsonBody(d.bodyLimitBytes);
  const listing = new ListingPages();
  const guarded =
    (verb: Verb, withName: boolean, fn: Handler, resource: Resource = 'accounts') =>
    (req: Request, res: Response, next: NextFunction) => {
      const run = async (): Promise<void> => {
        const target: Target | undefined = withName
          ? { name: nameOf(req), kind: parse(kindQuery, req.query, 'query').kind }
          : undefined;
        await d.authorizer.authorize(who(res), verb, target, resource);
        if ((await placed(d, verb, req, res)) === 'here') await fn(req, res);
      };
      run().catch(next);
    };

  app.get(
    '/api/v1/accounts',
    guarded('list', false, async (req, res) => {
      const q = parse(listQuery, req.query, 'query');
      res.type('json').send(listing.page(await d.accounts.list(), q));
    }),
  );

  app.get(
    '/api/v1/accounts/:name',
    guarded('get', true, async (req, res) => {
      const { kind } = parse(kindQuery, req.query, 'query');
      const name = nameOf(req);
      const state = await d.accounts.get(kind, name);
      if (!state) throw new HttpError(404, 'not-found', `no ${kind} named ${name}`);
      const [audit, revocations] = await Promise.all([
        d.accounts.audit(kind, name),
        d.revocations({ kind, account: name }),
      ]);
      res.json({ ...accountView(state), audit, revocations });
    }),
  );

  app.post(
    '/api/v1/accounts/:name/revoke',
    ...json,
    guarded('revoke', true, async (req, res) => {
      const { kind } = parse(kindQuery, req.query, 'query');
      const name = nameOf(req);
      const body = parse(revokeBody, req.body, 'body');
      const revoked = await d.revoke({
        kind,
        name,
        actor: who(res).user,
        reason: body.reason,
        reissue: body.reissue,
      });
      if (body.reissue) d.renew(kind, name);
      res.json({
        revoked,
        reissue: body.reissue ? 'started' : 'none',
        follow: `/api/v1/accounts/${name}?kind=${kind}`,
      });
    }),
  );

  app.post(
    '/api/v1/accounts/:name/renew',
    ...json,
    guarded('renew', true, async (req, res) => {
      const { kind } = parse(kindQuery, req.query, 'query');
      const name = nameOf(req);
      const state = await d.accounts.get(kind, name);
      if (!state) throw new HttpError(404, 'not-found', `no ${kind} named ${name}`);
      if (state.status === 'locked')
        throw new HttpError(409, 'locked', `${kind} ${name} is locked in the directory`);
      d.renew(kind, name);
      const follow = `/api/v1/accounts/${name}?kind=${kind}`;
      res.status(202).location(follow).json({ status: 'accepted', follow });
    }),
  );

  const ledger = guarded('list', false, async (req, res) => {
    const q = parse(ledgerQuery, req.query, 'query');
    res.json({ items: await d.revocations(q) });
  });
  // The feed is a resource of its own: a service may follow it without seeing any account.
  const feed = guarded(
    'list',
    false,
    async (req, res) => {
      const q = parse(feedQuery, req.query, 'query');
      res.json(feedPage(await d.revocations({}), q.since, q.limit));
    },
    'revocations',
  );

  app.get('/api/v1/revocations', (req: Request, res: Response, next: NextFunction) => {
    if (req.query.since === undefined) {
      ledger(req, res, next);
      return;
    }
    feed(req, res, next);
  });

  app.get(`/api${REVIEW_PATH}`, guarded('create', false, credentialReview(d.reviews), 'credentialreviews'));

  app.use((_req: Request, _res: Response, next: NextFunction) =>
    next(new HttpError(404, 'no-route', 'no such route')),
  );
  app.use(problemHandler(d.log));
  return app;
}
