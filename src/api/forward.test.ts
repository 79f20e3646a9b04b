import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { makeClusterPki, type ClusterPki } from '../../test/env/pki.ts';
import type { Identity } from './auth.ts';
import { HttpError } from './errors.ts';
import {
  FORWARDED_CERT_HEADER,
  FORWARDER_HEADER,
  forwardedCaller,
  forwardedPeer,
  pemCertificates,
  servingName,
  type ForwardDeps,
} from './forward.ts';
import { identityFromPeer } from './peer-certificate.ts';
import { ReviewCache } from './review-cache.ts';
import { TokenReviewer, type TokenOutcome } from './token-review.ts';

let ours: ClusterPki;
let theirs: ClusterPki;
const NOW = new Date();
beforeAll(async () => {
  [ours, theirs] = await Promise.all([makeClusterPki(), makeClusterPki()]);
});

const der = (pem: string): Buffer => new X509Certificate(pem).raw;

describe('forwardedPeer: a certificate received on the hop, judged as the handshake would', () => {
  it('signed by the client CA: the identity it names', () => {
    const peer = forwardedPeer(der(ours.admin.cert), pemCertificates(ours.ca.cert));
    expect(identityFromPeer(peer, NOW)).toMatchObject({
      user: 'kubernetes-admin',
      groups: ['system:masters', 'system:authenticated'],
      via: 'certificate',
    });
  });
  it('signed by another CA: refused as untrusted', () => {
    const peer = forwardedPeer(der(theirs.admin.cert), pemCertificates(ours.ca.cert));
    expect(peer.authorized).toBe(false);
    expect(() => identityFromPeer(peer, NOW)).toThrow(HttpError);
  });
  it('a serving certificate (no client usage): refused', () => {
    const peer = forwardedPeer(der(ours.serving.cert), pemCertificates(ours.ca.cert));
    expect(() => identityFromPeer(peer, NOW)).toThrow('not made for client authentication');
  });
  it('any CA of a bundle will do (a CA being rotated)', () => {
    const bundle = pemCertificates(`${theirs.ca.cert}\n${ours.ca.cert}`);
    expect(forwardedPeer(der(ours.admin.cert), bundle).authorized).toBe(true);
  });
});

describe('servingName', () => {
  it("is the serving certificate's first DNS name", () =>
    expect(servingName(ours.serving.cert)).toBe('localhost'));
  it('is undefined for a certificate with none', () => expect(servingName(ours.admin.cert)).toBeUndefined());
});

// ---- forwardedCaller, with the cluster's TokenReview answered by a table ------------------------

const USERS: Record<string, string> = {
  'own-token': 'system:serviceaccount:kubeusers:kubeusers',
  'sibling-token': 'system:serviceaccount:kubeusers:kubeusers',
  'other-token': 'system:serviceaccount:tool-x:default',
};

function deps(own = 'own-token'): ForwardDeps {
  const clients = {
    authentication: {
      createTokenReview: ({ body }: { body: { spec: { token?: string } } }) => {
        const user = USERS[body.spec.token ?? ''];
        return Promise.resolve({
          status: user
            ? { authenticated: true, user: { username: user }, audiences: ['kubeusers-forward'] }
            : { authenticated: false },
        });
      },
    },
  } as unknown as ConstructorParameters<typeof TokenReviewer>[0]['clients'];
  return {
    forwarders: new TokenReviewer({
      clients,
      audiences: ['kubeusers-forward'],
      cache: new ReviewCache<TokenOutcome>(
        { positiveMs: 0, negativeMs: 0, maxEntries: 0 },
        { now: () => NOW },
        (o) => o !== null,
      ),
    }),
    ownToken: () => Promise.resolve(own),
    clientCaPem: () => Promise.resolve(ours.ca.cert),
    credential: {
      instance: 'kubeusers',
      stateOf: () => Promise.resolve(undefined),
      isRevoked: () => Promise.resolve(false),
    },
    clock: { now: () => NOW },
    hop: () => Promise.resolve({ ca: '', serverName: 'localhost' }),
  };
}

const req = (headers: Record<string, string>): Request =>
  ({ get: (name: string) => headers[name.toLowerCase()] }) as unknown as Request;
const direct = (): Promise<Identity> => Promise.resolve({ user: 'token-user', groups: [], via: 'token' });
const outcome = (p: Promise<Identity>): Promise<string> =>
  p.then(
    (i) => `${i.user} by ${i.forwardedBy ?? '-'}`,
    (e: HttpError) => `${e.status} ${e.code}`,
  );

describe('forwardedCaller: who a request is from', () => {
  const cert = (): string => der(ours.admin.cert).toString('base64');
  const cases: [string, () => Record<string, string>, string, string][] = [
    ['not over the hop: authenticated as it came', () => ({}), 'token-user by -', 'own-token'],
    [
      'a forwarded certificate without a forwarder: authenticated as it came (the header is not believed)',
      () => ({ [FORWARDED_CERT_HEADER]: cert() }),
      'token-user by -',
      'own-token',
    ],
    [
      'from another replica of kubeusers: the certificate it passed on',
      () => ({ [FORWARDER_HEADER]: 'sibling-token', [FORWARDED_CERT_HEADER]: cert() }),
      'kubernetes-admin by system:serviceaccount:kubeusers:kubeusers',
      'own-token',
    ],
    [
      'from another replica, for a token caller: the token, reviewed as it came',
      () => ({ [FORWARDER_HEADER]: 'sibling-token' }),
      'token-user by system:serviceaccount:kubeusers:kubeusers',
      'own-token',
    ],
    [
      'from any other identity: refused',
      () => ({ [FORWARDER_HEADER]: 'other-token', [FORWARDED_CERT_HEADER]: cert() }),
      '401 forwarder-refused',
      'own-token',
    ],
    [
      'with a token the cluster does not accept: refused',
      () => ({ [FORWARDER_HEADER]: 'made-up', [FORWARDED_CERT_HEADER]: cert() }),
      '401 forwarder-refused',
      'own-token',
    ],
    [
      'a forwarded certificate of another CA: refused',
      () => ({
        [FORWARDER_HEADER]: 'sibling-token',
        [FORWARDED_CERT_HEADER]: der(theirs.admin.cert).toString('base64'),
      }),
      '401 untrusted-certificate',
      'own-token',
    ],
    [
      'this replica cannot confirm its own identity: 503, nothing believed',
      () => ({ [FORWARDER_HEADER]: 'sibling-token', [FORWARDED_CERT_HEADER]: cert() }),
      '503 forward-unavailable',
      'expired-own-token',
    ],
  ];
  it.each(cases)('%s', async (_, headers, want, own) =>
    expect(await outcome(forwardedCaller(req(headers()), deps(own), direct))).toBe(want),
  );
});
