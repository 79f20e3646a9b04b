// Who is calling, and may they? A client certificate that chains to the cluster CA (admins'
// kubeusers-issued credentials), or a bearer token checked with a TokenReview. The cluster's own
// RBAC then decides, through a SubjectAccessReview on kubeusers.io/accounts.
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import type { Clients } from '../cluster/client.ts';
import { checkCredential, type CredentialDeps } from './credential.ts';
import { HttpError } from './errors.ts';

export interface Identity {
  user: string;
  groups: string[];
  via: 'certificate' | 'token';
  serial?: string;
}

/** The states and the ledger refuse credentials kubeusers has revoked or replaced (see credential.ts). */
export interface AuthDeps extends CredentialDeps {
  clients: Clients;
}

function asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

async function fromCertificate(req: Request, deps: AuthDeps): Promise<Identity | undefined> {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  if (!socket.authorized)
    throw new HttpError(
      401,
      'untrusted-certificate',
      'the client certificate is not signed by the cluster CA',
    );
  const user = asList(cert.subject.CN)[0];
  if (!user) throw new HttpError(401, 'untrusted-certificate', 'the client certificate has no common name');
  const groups = asList(cert.subject.O);
  const stale = await checkCredential(cert.raw, groups, deps);
  if (stale) throw new HttpError(401, stale.reason, stale.message);
  return { user, groups, via: 'certificate', serial: cert.serialNumber.toLowerCase() };
}

async function fromToken(req: Request, deps: AuthDeps): Promise<Identity | undefined> {
  const header = req.get('authorization');
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw new HttpError(401, 'bad-authorization', 'the Authorization header must be "Bearer <token>"');
  const review = await deps.clients.authentication.createTokenReview({
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: m[1]! } },
  });
  const status = review.status;
  if (!status?.authenticated || !status.user?.username)
    throw new HttpError(401, 'invalid-token', 'the token was not accepted');
  return { user: status.user.username, groups: status.user.groups ?? [], via: 'token' };
}

export async function authenticate(req: Request, deps: AuthDeps): Promise<Identity> {
  const identity = (await fromCertificate(req, deps)) ?? (await fromToken(req, deps));
  if (!identity)
    throw new HttpError(401, 'unauthenticated', 'present a client certificate or a bearer token');
  return identity;
}

export type Verb = 'get' | 'list' | 'revoke' | 'renew';

export async function authorize(clients: Clients, who: Identity, verb: Verb, name?: string): Promise<void> {
  const review = await clients.authorization.createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: who.user,
        groups: who.groups,
        resourceAttributes: { group: 'kubeusers.io', resource: 'accounts', verb, ...(name ? { name } : {}) },
      },
    },
  });
  if (review.status?.allowed !== true) {
    throw new HttpError(
      403,
      'forbidden',
      `${who.user} may not ${verb} kubeusers.io/accounts${name ? ` ${name}` : ''}`,
    );
  }
}
