// Bearer tokens, checked with a TokenReview through the API's own client (its own rate limit, never
// the reconciler's) and remembered briefly by digest. A token that cannot be one is refused unseen.
import type { V1TokenReviewStatus } from '@kubernetes/client-node';
import type { Clients } from '../cluster/client.ts';
import { BudgetExhausted } from '../cluster/rate-limit.ts';
import type { Identity } from './identity.ts';
import { HttpError } from './errors.ts';
import { digestKey, type ReviewCache } from './review-cache.ts';

/** Longer than any ServiceAccount or OIDC token a cluster issues, shorter than a flood would like. */
export const MAX_TOKEN_LENGTH = 8192;
/** RFC 6750's b64token: what a bearer token may be made of. */
const TOKEN_CHARS = /^[A-Za-z0-9._~+/-]+=*$/;

/** Why a token is refused without asking the cluster, or undefined when it may be reviewed. */
export function tokenShapeProblem(token: string): string | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return `the token is longer than ${MAX_TOKEN_LENGTH} characters`;
  if (!TOKEN_CHARS.test(token)) return 'the token holds characters no bearer token has';
  return undefined;
}

/** As client-go's webhook authenticator: asked for audiences, the answer must name one of them. */
const audienceMatches = (asked: string[], answered: string[] | undefined): boolean =>
  asked.length === 0 || (answered ?? []).some((a) => asked.includes(a));

/** The caller a TokenReview's answer names, or undefined when it does not let them in. */
export function identityFromReview(
  status: V1TokenReviewStatus | undefined,
  audiences: string[],
): Identity | undefined {
  const user = status?.user;
  if (status?.authenticated !== true || !user?.username) return undefined;
  if (!audienceMatches(audiences, status.audiences)) return undefined;
  const extra = user.extra ?? {};
  return {
    user: user.username,
    groups: user.groups ?? [],
    via: 'token',
    ...(user.uid ? { uid: user.uid } : {}),
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}

/** A review's outcome as cached: the identity, or null for a refusal. */
export type TokenOutcome = Identity | null;

export interface TokenReviewerDeps {
  clients: Pick<Clients, 'authentication'>;
  audiences: string[];
  cache: ReviewCache<TokenOutcome>;
}

export const busy = (cause: unknown): HttpError =>
  new HttpError(
    503,
    'busy',
    'too many requests are waiting for the cluster to check callers; retry shortly',
    {
      cause,
    },
  );

/** Asked before the cluster reviews a token (may throw to refuse at once), and told when it is done. */
export interface ReviewGate {
  reserve(): void;
  release(): void;
}

export const openGate: ReviewGate = { reserve: () => undefined, release: () => undefined };

export class TokenReviewer {
  readonly #d: TokenReviewerDeps;

  constructor(d: TokenReviewerDeps) {
    this.#d = d;
  }

  /**
   * The caller the token names. The gate is asked only when the cluster must be (not for a
   * remembered answer, nor for a token refused by its shape).
   */
  async identify(token: string, gate: ReviewGate = openGate): Promise<Identity> {
    const shape = tokenShapeProblem(token);
    if (shape) throw new HttpError(401, 'invalid-token', shape);
    const { audiences, cache } = this.#d;
    const key = digestKey('token', ...audiences, '', token);
    let outcome = cache.get(key);
    if (outcome === undefined) {
      gate.reserve();
      try {
        outcome = identityFromReview(await this.#review(token), audiences) ?? null;
      } finally {
        gate.release();
      }
      cache.set(key, outcome);
    }
    if (!outcome) throw new HttpError(401, 'invalid-token', 'the token was not accepted');
    return outcome;
  }

  async #review(token: string): Promise<V1TokenReviewStatus | undefined> {
    const { audiences } = this.#d;
    try {
      const review = await this.#d.clients.authentication.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(audiences.length > 0 ? { audiences } : {}) },
        },
      });
      return review.status;
    } catch (err) {
      if (err instanceof BudgetExhausted) throw busy(err);
      throw err;
    }
  }
}
