import { describe, expect, it } from '@jest/globals';
import { makeClients } from './client.ts';
import { isNotLeader, isUnreachable, NotLeaderError } from './errors.ts';
import {
  leadsAfter,
  leaseDecision,
  type LeaseDecision,
  type LeaseLook,
  type LeaseSpecJson,
} from './leader.ts';
import { TokenBucket } from './rate-limit.ts';
import { failureReason } from '../reconcile/act.ts';

const NOW = new Date('2026-12-01T12:00:00.000Z');
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
const at = (s: number): Date => new Date(NOW.getTime() + s * 1000);

describe('leaseDecision', () => {
  const live: LeaseSpecJson = { holderIdentity: 'daemon-1', renewTime: ago(2), leaseDurationSeconds: 15 };
  const cases: [string, LeaseSpecJson, boolean, LeaseDecision][] = [
    ['free (never held)', {}, false, { take: true, takeover: true }],
    ['given up (empty holder)', { ...live, holderIdentity: '' }, false, { take: true, takeover: true }],
    ['ours: a renewal', { ...live, holderIdentity: 'me' }, false, { take: true, takeover: false }],
    ['expired', { ...live, renewTime: ago(16) }, false, { take: true, takeover: true }],
    [
      'held: refused, naming the holder',
      live,
      false,
      { take: false, holder: 'daemon-1', expiresAt: at(13), renewedAt: new Date(ago(2)) },
    ],
    [
      'held, with force: taken, saying from whom and until when it may write',
      live,
      true,
      { take: true, takeover: true, from: { holder: 'daemon-1', expiresAt: at(13) } },
    ],
    [
      'expired, with force: no one to take it from',
      { ...live, renewTime: ago(16) },
      true,
      { take: true, takeover: true },
    ],
  ];
  it.each(cases)('%s', (_, spec, force, want) => expect(leaseDecision(spec, NOW, 'me', force)).toEqual(want));
});

describe('leadsAfter', () => {
  const DEADLINE = 10_000;
  const cases: [string, LeaseLook, boolean, number, boolean][] = [
    ['renewed', { is: 'ours' }, true, 0, true],
    ['taken while following', { is: 'ours' }, false, Infinity, true],
    ['another live holder: at once, whatever the deadline', { is: 'held' }, true, 100, false],
    [
      'a refused renewal before the deadline: still leading',
      { is: 'failed', status: 429 },
      true,
      2_000,
      true,
    ],
    ['a conflict before the deadline: still leading', { is: 'failed', status: 409 }, true, 9_999, true],
    [
      'no answer before the deadline: still leading',
      { is: 'failed', err: 'ECONNREFUSED' },
      true,
      4_000,
      true,
    ],
    ['a refused renewal at the deadline: no longer', { is: 'failed', status: 500 }, true, DEADLINE, false],
    ['a refused take while following: still following', { is: 'failed', status: 403 }, false, 0, false],
  ];
  it.each(cases)('%s', (_name, look, leading, since, expected) => {
    expect(leadsAfter(look, leading, since, DEADLINE)).toBe(expected);
  });
});

describe('the fence', () => {
  it('refuses a write with NotLeaderError before any request, counted as not-leader', async () => {
    const kc = { server: 'https://127.0.0.1:1', tls: {}, headers: () => Promise.resolve({}) };
    const clients = makeClients(kc, new TokenBucket(100, 100), { userAgent: 't', canWrite: () => false });
    const err = await clients.core
      .createNamespacedConfigMap({ namespace: 'n', body: { metadata: { name: 'x' } } })
      .catch((e: unknown) => e);
    expect(isNotLeader(err)).toBe(true);
    expect(failureReason(err)).toBe('not-leader');
  });

  // A follower's API authenticates callers with reviews: those POSTs pass, and only those.
  const posts: [string, (c: ReturnType<typeof makeClients>) => Promise<unknown>, boolean][] = [
    [
      'a SubjectAccessReview passes (it fails on the network instead)',
      (c) => c.authorization.createSubjectAccessReview({ body: { spec: {} } }),
      false,
    ],
    [
      'a TokenReview passes',
      (c) => c.authentication.createTokenReview({ body: { spec: { token: 'x' } } }),
      false,
    ],
    [
      'a ConfigMap is refused, though the server URL has the review path in it',
      (c) => c.core.createNamespacedConfigMap({ namespace: 'n', body: { metadata: { name: 'x' } } }),
      true,
    ],
  ];
  it.each(posts)('%s', async (_, post, refused) => {
    // A server behind a path prefix: the fence must read the request's own path, from its start.
    const kc = {
      server: 'https://127.0.0.1:1/apis/authorization.k8s.io/',
      tls: {},
      headers: () => Promise.resolve({}),
    };
    const clients = makeClients(kc, new TokenBucket(100, 100), { userAgent: 't', canWrite: () => false });
    const err = await post(clients).catch((e: unknown) => e);
    expect(isNotLeader(err)).toBe(refused);
  });

  const cases: [string, unknown, boolean][] = [
    ['the fence', new NotLeaderError(), true],
    ['wrapped', new Error('x', { cause: new NotLeaderError() }), true],
    ['another error', new Error('not the leader'), false],
  ];
  it.each(cases)('isNotLeader: %s', (_, err, want) => expect(isNotLeader(err)).toBe(want));
});

describe('isUnreachable', () => {
  const sys = (code: string): Error => Object.assign(new Error('x'), { code });
  const cases: [string, unknown, boolean][] = [
    ['connection refused', sys('ECONNREFUSED'), true],
    ['reset, wrapped by fetch', new TypeError('fetch failed', { cause: sys('ECONNRESET') }), true],
    ['an undici socket error', sys('UND_ERR_SOCKET'), true],
    ['a file system error', sys('EACCES'), false],
    ['an API answer', Object.assign(new Error('x'), { code: 503 }), false],
  ];
  it.each(cases)('%s', (_, err, want) => expect(isUnreachable(err)).toBe(want));
});
