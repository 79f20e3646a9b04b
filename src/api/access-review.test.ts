import { describe, expect, it } from '@jest/globals';
import type { V1SubjectAccessReview } from '@kubernetes/client-node';
import { accessReviewSpec, accountResourceName, Authorizer, type Target } from './access-review.ts';
import type { Identity } from './auth.ts';
import { HttpError } from './errors.ts';
import { ReviewCache } from './review-cache.ts';

describe('accountResourceName', () => {
  const cases: [string, Target, string][] = [
    ['a tool is its user name', { kind: 'tool', name: 'twin' }, 'tools.twin'],
    ['an admin is its uid', { kind: 'admin', name: 'twin' }, 'twin'],
  ];
  it.each(cases)('%s', (_, target, name) => {
    expect(accountResourceName('tools', target)).toBe(name);
  });
});

describe('accessReviewSpec', () => {
  const token: Identity = {
    user: 'system:serviceaccount:ns:bot',
    groups: ['system:serviceaccounts', 'system:authenticated'],
    via: 'token',
    uid: '0b6f',
    extra: { 'authentication.kubernetes.io/credential-id': ['JTI=1'] },
  };
  const cert: Identity = {
    user: 'alice',
    groups: ['kubeusers:admins', 'system:authenticated'],
    via: 'certificate',
  };
  const cases: [string, Identity, string | undefined, object][] = [
    [
      'a token caller: user, uid, groups and extra',
      token,
      'tools.twin',
      {
        user: token.user,
        uid: '0b6f',
        groups: token.groups,
        extra: token.extra!,
        resourceAttributes: {
          group: 'kubeusers.io',
          resource: 'accounts',
          verb: 'revoke',
          name: 'tools.twin',
        },
      },
    ],
    [
      'a certificate caller: user and groups',
      cert,
      undefined,
      {
        user: 'alice',
        groups: cert.groups,
        resourceAttributes: { group: 'kubeusers.io', resource: 'accounts', verb: 'revoke' },
      },
    ],
  ];
  it.each(cases)('%s', (_, who, name, spec) => {
    expect(accessReviewSpec(who, 'revoke', name)).toEqual(spec);
  });
});

describe('Authorizer', () => {
  it('asks once per question within the cache time, and tells tool twin from admin twin', async () => {
    const sent: V1SubjectAccessReview[] = [];
    const clients = {
      authorization: {
        createSubjectAccessReview: ({ body }: { body: V1SubjectAccessReview }) => {
          sent.push(body);
          return Promise.resolve({
            ...body,
            status: { allowed: body.spec.resourceAttributes?.name === 'tools.twin' },
          });
        },
      },
    } as unknown as ConstructorParameters<typeof Authorizer>[0]['clients'];
    const cache = new ReviewCache<boolean>(
      { positiveMs: 10_000, negativeMs: 2_000, maxEntries: 100 },
      { now: () => new Date(0) },
      (v) => v,
    );
    const authz = new Authorizer({ clients, project: 'tools', cache });
    const who: Identity = { user: 'helpdesk', groups: ['system:authenticated'], via: 'certificate' };
    const verdict = (t: Target) =>
      authz.authorize(who, 'revoke', t).then(
        () => 'allowed',
        (e: unknown) => (e instanceof HttpError ? e.code : 'other'),
      );
    expect(await verdict({ kind: 'tool', name: 'twin' })).toBe('allowed');
    expect(await verdict({ kind: 'tool', name: 'twin' })).toBe('allowed');
    expect(await verdict({ kind: 'admin', name: 'twin' })).toBe('forbidden');
    // Every account first (refused, remembered), then each name.
    expect(sent.map((s) => s.spec.resourceAttributes?.name ?? '(all)')).toEqual([
      '(all)',
      'tools.twin',
      'twin',
    ]);
  });
});

describe('Authorizer, a caller allowed on every account', () => {
  it('asks once for all accounts (a review without a name means all), not once per account', async () => {
    const sent: V1SubjectAccessReview[] = [];
    const clients = {
      authorization: {
        createSubjectAccessReview: ({ body }: { body: V1SubjectAccessReview }) => {
          sent.push(body);
          // RBAC: a rule without resourceNames matches every name, and a request without one.
          return Promise.resolve({ ...body, status: { allowed: body.spec.user === 'admin' } });
        },
      },
    } as unknown as ConstructorParameters<typeof Authorizer>[0]['clients'];
    const cache = new ReviewCache<boolean>(
      { positiveMs: 10_000, negativeMs: 2_000, maxEntries: 100 },
      { now: () => new Date(0) },
      (v) => v,
    );
    const authz = new Authorizer({ clients, project: 'tools', cache });
    const admin: Identity = { user: 'admin', groups: ['system:authenticated'], via: 'certificate' };
    for (const name of ['a', 'b', 'c']) await authz.authorize(admin, 'get', { kind: 'tool', name });
    expect(sent.map((s) => s.spec.resourceAttributes?.name ?? '(all)')).toEqual(['(all)']);
  });
});
