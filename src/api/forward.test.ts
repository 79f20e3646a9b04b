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
  hopTarget,
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

/** TokenReviews the cluster was asked for. */
let reviewed = 0;

function deps(own = 'own-token'): ForwardDeps {
  const clients = {
    authentication: {
      createTokenReview: ({ body }: { body: { spec: { token?: string } } }) => {
        reviewed++;
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

interface Shape {
  method: string;
  path: string;
  /** A client certificate on the connection itself (the hop never has one). */
  peer?: boolean;
}
const WRITE: Shape = { method: 'POST', path: '/v1/accounts/x/revoke' };
const req = (headers: Record<string, string>, shape: Shape = WRITE): Request =>
  ({
    get: (name: string) => headers[name.toLowerCase()],
    method: shape.method,
    baseUrl: '/api',
    path: shape.path,
    socket: shape.peer
      ? { getPeerCertificate: () => ({ subject: { CN: 'x' }, raw: Buffer.from('x') }), authorized: true }
      : {},
  }) as unknown as Request;
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

describe('forwardedCaller: a request that claims the hop costs the cluster nothing unless it could be one', () => {
  const claim = { [FORWARDER_HEADER]: 'made-up' };
  const cases: [string, Shape, string, { cluster: number; gate: number }][] = [
    [
      'a revoke: the forwarder token is reviewed, through the gate',
      WRITE,
      '401 forwarder-refused',
      { cluster: 2, gate: 1 },
    ],
    [
      'a renew: the same',
      { method: 'POST', path: '/v1/accounts/x/renew' },
      '401 forwarder-refused',
      { cluster: 2, gate: 1 },
    ],
    [
      'a read (only writes are forwarded): refused unasked',
      { method: 'GET', path: '/v1/accounts' },
      '401 forwarder-refused',
      { cluster: 0, gate: 0 },
    ],
    [
      'a credential review: refused unasked',
      { method: 'GET', path: '/v1/credential-reviews' },
      '401 forwarder-refused',
      { cluster: 0, gate: 0 },
    ],
    [
      'a write over a connection with a client certificate (the hop has none): refused unasked',
      { ...WRITE, peer: true },
      '401 forwarder-refused',
      { cluster: 0, gate: 0 },
    ],
  ];
  it.each(cases)('%s', async (_, shape, want, cost) => {
    let gate = 0;
    const counted = { reserve: () => void gate++, release: () => undefined };
    reviewed = 0;
    expect(await outcome(forwardedCaller(req(claim, shape), deps(), direct, counted))).toBe(want);
    expect({ cluster: reviewed, gate }).toEqual(cost);
  });
});

describe('hopTarget: a forwarded request goes to the leader and nowhere else', () => {
  const cases: [string, string, string, string][] = [
    [
      'a path: the same path at the leader',
      '/api/v1/accounts/x/revoke?kind=tool',
      'https://10.0.0.7:8443',
      'https://10.0.0.7:8443/api/v1/accounts/x/revoke?kind=tool',
    ],
    [
      'an absolute-form target: refused (it would replace the leader)',
      'https://attacker.example:9999/api/v1/accounts/x/revoke',
      'https://10.0.0.7:8443',
      'refused',
    ],
    [
      'a network-path target: refused',
      '//attacker.example/api/v1/accounts/x/revoke',
      'https://10.0.0.7:8443',
      'refused',
    ],
    [
      'a leader address over plain http: refused',
      '/api/v1/accounts/x/revoke',
      'http://10.0.0.7:8443',
      'refused',
    ],
    [
      'a leader address with credentials: refused',
      '/api/v1/accounts/x/revoke',
      'https://u:p@10.0.0.7:8443',
      'refused',
    ],
    [
      'a leader address with a path: refused',
      '/api/v1/accounts/x/revoke',
      'https://10.0.0.7:8443/elsewhere',
      'refused',
    ],
  ];
  it.each(cases)('%s', (_, target, leader, want) => {
    let got: string;
    try {
      got = hopTarget(target, leader).href;
    } catch {
      got = 'refused';
    }
    expect(got).toBe(want);
  });
});
