// Writes that reach a follower are carried out by the leader (ADR 25). The follower has already
// authenticated the caller; on the hop it vouches for one thing only, that the caller holds the key
// of the client certificate it passes on (a bearer token is passed as it came, and proves itself).
// The leader believes that only from kubeusers' own identity, and decides everything else again
// itself: the certificate's chain and dates, revocation, the caller's allowance, and RBAC.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import type { Request } from 'express';
import type { Clock } from '../clock.ts';
import type { Identity } from './auth.ts';
import { checkCredential, type CredentialDeps } from './credential.ts';
import { HttpError } from './errors.ts';
import { identityFromPeer, peerOf, type PeerView } from './peer-certificate.ts';
import type { TLSSocket } from 'node:tls';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { openGate, type ReviewGate, type TokenReviewer } from './token-review.ts';

/** The forwarding replica's own token (for the forwarding audience): present on every hop. */
export const FORWARDER_HEADER = 'kubeusers-forwarder';
/** The caller's client certificate (DER, base64), when it authenticated with one. */
export const FORWARDED_CERT_HEADER = 'kubeusers-forwarded-client-cert';

const HOP_TIMEOUT_MS = 30_000;

/** The certificates of a PEM bundle. */
export function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * What the TLS handshake would have said of a certificate received on the hop instead: signed by
 * one of the client CAs (dates, usage and subject are judged by identityFromPeer, as for a direct one).
 */
export function forwardedPeer(der: Buffer, cas: X509Certificate[]): PeerView {
  const leaf = new X509Certificate(der);
  const authorized = cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  const legacy = leaf.toLegacyObject();
  return {
    authorized,
    subject: legacy.subject,
    validFrom: new Date(leaf.validFrom),
    validTo: new Date(leaf.validTo),
    ...(leaf.keyUsage ? { extKeyUsage: leaf.keyUsage } : {}),
    serialNumber: leaf.serialNumber,
    raw: leaf.raw,
  };
}

export interface ForwardDeps {
  /** Reviews tokens for the forwarding audience (the API's own budget). */
  forwarders: TokenReviewer;
  /** This replica's own token for that audience: the only identity a forwarder may have. */
  ownToken: () => Promise<string>;
  /** The client CA bundle, as the handshake uses it. */
  clientCaPem: () => Promise<string>;
  credential: CredentialDeps;
  clock: Clock;
  /** The hop's TLS trust: the CA bundle the leader's serving certificate must chain to, and its name. */
  /** `pin`: the SHA-256 fingerprint (colon hex, as Node gives it) the leader's certificate must have. */
  hop: () => Promise<{ ca: string; serverName: string; pin?: string }>;
}

const refuse = (code: string, message: string): HttpError => new HttpError(401, code, message);

/** The routes the hop carries (relative to the /api mount's parent): writes only. */
const HOP_ROUTE = /^\/api\/v1\/accounts\/[^/]+\/(revoke|renew)$/;

/**
 * Whether a request could have come over the hop at all: a revoke or renew, on a connection without
 * a client certificate (the hop never presents one). Anything else claiming the hop is refused
 * before the cluster is asked about its token.
 */
function couldBeHop(req: Request): boolean {
  return (
    req.method === 'POST' &&
    HOP_ROUTE.test(`${req.baseUrl}${req.path}`) &&
    peerOf(req.socket as TLSSocket) === undefined
  );
}

/** The identity a forwarder must have: this replica's own, as the cluster says its token names it. */
async function ownIdentity(d: ForwardDeps): Promise<string> {
  try {
    return (await d.forwarders.identify(await d.ownToken())).user;
  } catch (err) {
    throw new HttpError(503, 'forward-unavailable', 'this replica cannot confirm its own identity', {
      cause: err,
    });
  }
}

/**
 * The caller of a request: over the hop, the certificate the forwarder passed on (or, for a token,
 * `direct`, which reviews the token as it came), marked with who forwarded it; otherwise `direct`.
 * A request that claims the hop (carries the forwarder header) and is not from kubeusers itself is refused.
 */
export async function forwardedCaller(
  req: Request,
  d: ForwardDeps,
  direct: () => Promise<Identity>,
  gate: ReviewGate = openGate,
): Promise<Identity> {
  const token = req.get(FORWARDER_HEADER);
  if (token === undefined) return direct();
  if (!couldBeHop(req))
    throw refuse('forwarder-refused', 'only revoke and renew are forwarded, by another kubeusers replica');
  // The forwarder's token is reviewed through the caller's address gate, like any token: made-up
  // ones cannot spend the API's review budget.
  const [forwarder, self] = await Promise.all([
    d.forwarders.identify(token, gate).catch(() => undefined),
    ownIdentity(d),
  ]);
  if (!forwarder || forwarder.user !== self)
    throw refuse('forwarder-refused', 'only another kubeusers replica may forward a request');
  const cert = req.get(FORWARDED_CERT_HEADER);
  if (cert === undefined) return { ...(await direct()), forwardedBy: forwarder.user };
  const peer = forwardedPeer(Buffer.from(cert, 'base64'), pemCertificates(await d.clientCaPem()));
  const identity = identityFromPeer(peer, d.clock.now());
  const stale = await checkCredential(peer.raw, identity.groups, d.credential);
  if (stale) throw refuse(stale.reason, stale.message);
  return { ...identity, forwardedBy: forwarder.user };
}

export interface HopReply {
  status: number;
  contentType: string;
  body: Buffer;
}

/** The request as the leader must see it: the caller's credential carried, the body as parsed. */
function hopHeaders(req: Request, token: string, payload: string | undefined): Record<string, string> {
  const peer = peerOf(req.socket as TLSSocket);
  const authorization = req.get('authorization');
  return {
    [FORWARDER_HEADER]: token,
    ...(peer ? { [FORWARDED_CERT_HEADER]: peer.raw.toString('base64') } : {}),
    ...(!peer && authorization ? { authorization } : {}),
    ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
  };
}

/** Sends the request to the leader once; never again (a write is not repeated on a guess). */
export async function relay(req: Request, leaderUrl: string, d: ForwardDeps): Promise<HopReply> {
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  const headers = hopHeaders(req, await d.ownToken(), payload);
  const { ca, serverName, pin } = await d.hop();
  const target = hopTarget(req.originalUrl, leaderUrl);
  return new Promise((resolve, reject) => {
    const out = request(
      target,
      {
        method: req.method,
        headers,
        ca,
        servername: serverName,
        allowPartialTrustChain: true,
        checkServerIdentity: (host: string, cert: PeerCertificate) => pinned(host, cert, pin),
        agent: false,
        timeout: HOP_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 502,
            contentType: String(res.headers['content-type'] ?? 'application/json'),
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    out.on('timeout', () => out.destroy(new Error('the leader did not answer in time')));
    out.on('error', reject);
    out.end(payload);
  });
}

/**
 * Where a forwarded request goes: the leader's origin and the request's own path. The Lease
 * annotation must be a bare https origin, and the request target a path (an absolute-form target
 * would otherwise replace the leader's address).
 */
export function hopTarget(originalUrl: string, leaderUrl: string): URL {
  const leader = new URL(leaderUrl);
  if (leader.protocol !== 'https:' || leader.username || leader.password || leader.pathname !== '/')
    throw new Error('the leader advertises an address that is not a bare https origin');
  if (!originalUrl.startsWith('/') || originalUrl.startsWith('//'))
    throw new HttpError(400, 'bad-request', 'the request target must be a path');
  const target = new URL(originalUrl, leader.origin);
  if (target.origin !== leader.origin)
    throw new HttpError(400, 'bad-request', 'the request target must be a path');
  return target;
}

/**
 * Trusting the serving certificate itself (no api.forward.caFile) trusts every certificate of that
 * file: the leader must then present exactly the first one, not another leaf of an intermediate
 * the file also holds.
 */
function pinned(host: string, cert: PeerCertificate, pin: string | undefined): Error | undefined {
  const err = checkServerIdentity(host, cert);
  if (err) return err;
  if (pin !== undefined && cert.fingerprint256 !== pin)
    return new Error('the leader presented a serving certificate other than the one this replica serves');
  return undefined;
}

export const hopFailed = (leader: string | undefined, cause: unknown): HttpError =>
  new HttpError(
    502,
    'forward-failed',
    `this replica could not get an answer from the leader${leader ? ` (${leader})` : ''}; whether it carried the request out is unknown: check the account before trying again`,
    { cause },
  );

/** The first DNS name of a serving certificate: the name the leader's must carry too. */
export function servingName(certPem: string): string | undefined {
  const [leaf] = pemCertificates(certPem);
  const dns = leaf?.subjectAltName?.split(', ').find((n) => n.startsWith('DNS:'));
  return dns?.slice(4);
}

export async function readToken(file: string): Promise<string> {
  return (await readFile(file, 'utf8')).trim();
}
