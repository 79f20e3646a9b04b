// Who is calling? A client certificate that chains to the cluster CA (admins' kubeusers-issued
// credentials), or a bearer token checked with a TokenReview. What they may do is decided in
// access-review.ts, by the cluster's own RBAC.
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import type { Clients } from '../cluster/client.ts';
import type { Clock } from '../clock.ts';
import type { AccountKind } from '../directory/account.ts';
import type { AccountState } from '../cluster/state.ts';
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
}

export interface AuthDeps {
  /** The API's own client set (reviews and the reads authentication needs), never the reconciler's. */
  clients: Clients;
  clock: Clock;
  tokens: TokenReviewer;
  /** The state of a kubeusers account, to refuse credentials it has revoked. */
  stateOf: (kind: AccountKind, name: string) => Promise<AccountState | undefined>;
}

const EPOCH_GROUP = /^kubeusers:(tool|admin):([a-z0-9-]+):(\d+)$/;

async function fromCertificate(req: Request, deps: AuthDeps): Promise<Identity | undefined> {
  const peer = peerOf(req.socket as TLSSocket);
  if (!peer) return undefined;
  const identity = identityFromPeer(peer, deps.clock.now());
  const { groups } = identity;
  for (const g of groups) {
    const m = EPOCH_GROUP.exec(g);
    if (!m) continue;
    const state = await deps.stateOf(m[1] as AccountKind, m[2]!);
    if (!state || state.epoch !== Number(m[3]) || state.status === 'locked' || state.status === 'revoked') {
      throw new HttpError(401, 'credential-revoked', 'this credential has been revoked');
    }
  }
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
