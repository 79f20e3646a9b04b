import { describe, expect, it } from '@jest/globals';
import type { V1TokenReview, V1TokenReviewStatus } from '@kubernetes/client-node';
import { BudgetExhausted } from '../cluster/rate-limit.ts';
import { HttpError } from './errors.ts';
import { ReviewCache } from './review-cache.ts';
import { identityFromReview, tokenShapeProblem, TokenReviewer, type TokenOutcome } from './token-review.ts';

describe('tokenShapeProblem', () => {
  const jwt = `eyJhbGciOiJSUzI1NiJ9.${'a'.repeat(600)}.${'b'.repeat(342)}`;
  const cases: [string, string, boolean][] = [
    ['a JWT', jwt, true],
    ['a bootstrap token', 'abcdef.0123456789abcdef', true],
    ['base64 with padding', 'YWJj+/==', true],
    ['8,192 characters', 'a'.repeat(8192), true],
    ['8,193 characters', 'a'.repeat(8193), false],
    ['a quote', 'abc"def', false],
    ['a comma', 'abc,def', false],
    ['non-ASCII', 'abcé', false],
    ['padding in the middle', 'ab=cd', false],
  ];
  it.each(cases)('%s may be reviewed: %s', (_, token, ok) => {
    expect(tokenShapeProblem(token) === undefined).toBe(ok);
  });
});

describe('identityFromReview', () => {
  const user = { username: 'system:serviceaccount:ns:bot', uid: 'u-1', groups: ['g'], extra: { k: ['v'] } };
  const cases: [string, V1TokenReviewStatus | undefined, string[], string | undefined][] = [
    ['authenticated', { authenticated: true, user }, [], 'system:serviceaccount:ns:bot'],
    ['not authenticated', { authenticated: false, user }, [], undefined],
    ['no status', undefined, [], undefined],
    ['no user name', { authenticated: true, user: { groups: ['g'] } }, [], undefined],
    [
      'the audience asked for',
      { authenticated: true, user, audiences: ['kubeusers'] },
      ['kubeusers'],
      user.username,
    ],
    ['another audience', { authenticated: true, user, audiences: ['vault'] }, ['kubeusers'], undefined],
    [
      'no audience in the answer when one was asked for',
      { authenticated: true, user },
      ['kubeusers'],
      undefined,
    ],
  ];
  it.each(cases)('%s', (_, status, audiences, name) => {
    expect(identityFromReview(status, audiences)?.user).toBe(name);
  });
  it('keeps uid and extra for the access review', () => {
    expect(identityFromReview({ authenticated: true, user }, [])).toEqual({
      user: user.username,
      groups: ['g'],
      via: 'token',
      uid: 'u-1',
      extra: { k: ['v'] },
    });
  });
});

describe('TokenReviewer', () => {
  function fake(answer: (token: string) => V1TokenReviewStatus | Error) {
    const sent: V1TokenReview[] = [];
    const clients = {
      authentication: {
        createTokenReview: ({ body }: { body: V1TokenReview }) => {
          sent.push(body);
          const a = answer(body.spec.token);
          return a instanceof Error ? Promise.reject(a) : Promise.resolve({ ...body, status: a });
        },
      },
    } as unknown as ConstructorParameters<typeof TokenReviewer>[0]['clients'];
    const cache = new ReviewCache<TokenOutcome>(
      { positiveMs: 10_000, negativeMs: 2_000, maxEntries: 100 },
      { now: () => new Date(0) },
      (o) => o !== null,
    );
    return { sent, reviewer: new TokenReviewer({ clients, audiences: ['kubeusers'], cache }) };
  }
  const good = { authenticated: true, audiences: ['kubeusers'], user: { username: 'bot', groups: [] } };
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: unknown) => (e instanceof HttpError ? `${e.status} ${e.code}` : 'other'),
    );

  it('asks once per token within the cache time, with the audiences, and calls the gate only then', async () => {
    const { sent, reviewer } = fake((t) => (t === 'good' ? good : { authenticated: false }));
    let gated = 0;
    let released = 0;
    const gate = { reserve: () => void gated++, release: () => void released++ };
    expect(await code(reviewer.identify('good', gate))).toBe('ok');
    expect(await code(reviewer.identify('good', gate))).toBe('ok');
    expect(await code(reviewer.identify('bad', gate))).toBe('401 invalid-token');
    expect(await code(reviewer.identify('bad', gate))).toBe('401 invalid-token');
    expect(await code(reviewer.identify('"x"', gate))).toBe('401 invalid-token');
    expect(sent.map((b) => b.spec.audiences)).toEqual([['kubeusers'], ['kubeusers']]);
    expect([gated, released]).toEqual([2, 2]);
  });

  it('refuses without a review when the gate says so', async () => {
    const { sent, reviewer } = fake(() => good);
    const gate = {
      reserve: () => {
        throw new HttpError(429, 'rate-limited', 'spent');
      },
      release: () => undefined,
    };
    expect(await code(reviewer.identify('good', gate))).toBe('429 rate-limited');
    expect(sent).toEqual([]);
  });

  it('answers 503 when the review budget is exhausted', async () => {
    const { reviewer } = fake(() => new BudgetExhausted(100));
    expect(await code(reviewer.identify('good'))).toBe('503 busy');
  });
});
