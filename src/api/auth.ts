// Who is calling? A client certificate that chains to the cluster CA (admins' kubeusers-issued
// credentials), or a bearer token checked with a TokenReview. What they may do is decided in
// access-review.ts, by the cluster's own RBAC.
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import type { Clients } from '../cluster/client.ts';
import type { Clock } from '../clock.ts';
import { checkCredential, type CredentialDeps } from './credential.ts';
import { HttpError } from './errors.ts';
import { identityFromPeer, peerOf } from './peer-certificate.ts';
import { openGate, type ReviewGate, type TokenReviewer } from './token-review.ts';

export interface Identity {
  user: string;
  groups: string[];
  via: 'certificate' | 'token';
  serial?: string;
  /** From a TokenReview: the user's uid and extra, passed on to the SubjectAccessReview. */
  uid?: string;
  extra?: Record<string, string[]>;
  /** Set when another kubeusers replica passed the request on (ADR 25): whose identity it has. */
  forwardedBy?: string;
}

/** The states and the ledger refuse credentials kubeusers has revoked or replaced (see credential.ts). */
export interface AuthDeps extends CredentialDeps {
  /** The API's own client set (reviews and the reads authentication needs), never the reconciler's. */
  clients: Clients;
  clock: Clock;
  tokens: TokenReviewer;
}

async function fromCertificate(req: Request, deps: AuthDeps): Promise<Identity | undefined> {
  const peer = peerOf(req.socket as TLSSocket);
  if (!peer) return undefined;
  const identity = identityFromPeer(peer, deps.clock.now());
  const stale = await checkCredential(peer.raw, identity.groups, deps);
  if (stale) throw new HttpError(401, stale.reason, stale.message);
  return identity;
}

async function fromToken(req: Request, deps: AuthDeps, gate: ReviewGate): Promise<Identity | undefined> {
  const header = req.get('authorization');
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw new HttpError(401, 'bad-authorization', 'the Authorization header must be "Bearer <token>"');
  return deps.tokens.identify(m[1]!, gate);
}

/**
 * The caller, or a 401. The gate is asked before the cluster reviews a token (the per-address
 * allowance of failed authentications); a certificate or a remembered token never needs it.
 */
export async function authenticate(
  req: Request,
  deps: AuthDeps,
  gate: ReviewGate = openGate,
): Promise<Identity> {
  const identity = (await fromCertificate(req, deps)) ?? (await fromToken(req, deps, gate));
  if (!identity)
    throw new HttpError(401, 'unauthenticated', 'present a client certificate or a bearer token');
  return identity;
}
