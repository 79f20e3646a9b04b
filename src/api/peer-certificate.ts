// Who a client certificate says the caller is, decided from what the TLS handshake verified and
// what the certificate holds; the Kubernetes rules for client certificates, applied again here: a
// chain to the client CA, inside its validity window, made for client authentication, one common
// name (the user) and its organisations (the groups).
import type { TLSSocket } from 'node:tls';
import { HttpError } from './errors.ts';

export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
/** What the API server adds to every authenticated user; a SubjectAccessReview must carry it too. */
export const AUTHENTICATED_GROUP = 'system:authenticated';

/** The parts of Node's peer certificate this decision reads. */
export interface PeerView {
  /** Whether the handshake verified the chain against the client CA (and its dates). */
  authorized: boolean;
  authorizationError?: string;
  subject: { CN?: string | string[]; O?: string | string[] };
  validFrom: Date;
  validTo: Date;
  extKeyUsage?: string[];
  serialNumber: string;
  /** The DER, for the revocation ledger's serial and fingerprint. */
  raw: Buffer;
}

export interface CertificateIdentity {
  user: string;
  groups: string[];
  via: 'certificate';
  serial: string;
}

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

const refuse = (code: string, message: string, cause?: unknown): HttpError =>
  new HttpError(401, code, message, cause === undefined ? undefined : { cause });

/** The handshake's own verdicts, by OpenSSL's code. */
const HANDSHAKE_CODES: Record<string, [string, string]> = {
  CERT_HAS_EXPIRED: ['expired-certificate', 'the client certificate has expired'],
  CERT_NOT_YET_VALID: ['certificate-not-yet-valid', 'the client certificate is not valid yet'],
  INVALID_PURPOSE: [
    'wrong-certificate-usage',
    'the client certificate is not made for client authentication',
  ],
};

/** The caller a verified peer certificate names, refused with a reason code otherwise. */
export function identityFromPeer(peer: PeerView, now: Date): CertificateIdentity {
  if (!peer.authorized) {
    const [code, message] = HANDSHAKE_CODES[peer.authorizationError ?? ''] ?? [
      'untrusted-certificate',
      'the client certificate is not signed by the cluster CA',
    ];
    throw refuse(code, message, peer.authorizationError);
  }
  if (now.getTime() < peer.validFrom.getTime())
    throw refuse('certificate-not-yet-valid', 'the client certificate is not valid yet');
  if (now.getTime() > peer.validTo.getTime())
    throw refuse('expired-certificate', 'the client certificate has expired');
  if (!peer.extKeyUsage?.includes(CLIENT_AUTH_OID))
    throw refuse('wrong-certificate-usage', 'the client certificate is not made for client authentication');
  const names = list(peer.subject.CN);
  if (names.length !== 1 || !names[0])
    throw refuse(
      'untrusted-certificate',
      'the client certificate must name exactly one common name (the user)',
    );
  const groups = [...new Set(list(peer.subject.O))];
  return {
    user: names[0],
    groups: groups.includes(AUTHENTICATED_GROUP) ? groups : [...groups, AUTHENTICATED_GROUP],
    via: 'certificate',
    serial: peer.serialNumber.toLowerCase(),
  };
}

type PeerCertificate = Omit<PeerView, 'authorized' | 'authorizationError'>;

/**
 * What a connection's certificate holds, read once per connection: Node builds a new object (subject,
 * fingerprints, the DER copied) at every getPeerCertificate(), and a gateway or an admin sends many
 * requests over one keep-alive connection. The handshake's verdict is read from the socket each time.
 */
const peerCertificates = new WeakMap<TLSSocket, PeerCertificate | null>();

function peerCertificate(socket: TLSSocket): PeerCertificate | undefined {
  const known = peerCertificates.get(socket);
  if (known !== undefined) return known ?? undefined;
  const cert = socket.getPeerCertificate();
  const read =
    !cert || Object.keys(cert).length === 0
      ? undefined
      : {
          subject: cert.subject ?? {},
          validFrom: new Date(cert.valid_from),
          validTo: new Date(cert.valid_to),
          ...(cert.ext_key_usage ? { extKeyUsage: cert.ext_key_usage } : {}),
          serialNumber: cert.serialNumber,
          raw: cert.raw,
        };
  // A request is read only once the handshake is over: the certificate is settled by then.
  peerCertificates.set(socket, read ?? null);
  return read;
}

/** The peer certificate of a TLS connection, or undefined when the client sent none. */
export function peerOf(socket: TLSSocket): PeerView | undefined {
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = peerCertificate(socket);
  if (!cert) return undefined;
  return {
    authorized: socket.authorized,
    ...(socket.authorizationError ? { authorizationError: String(socket.authorizationError) } : {}),
    ...cert,
  };
}

/** The identity a connection's certificate establishes, or undefined (none, or one that is refused). */
export function claimedByCertificate(req: { socket: unknown }, now: Date): CertificateIdentity | undefined {
  const peer = peerOf(req.socket as TLSSocket);
  if (!peer) return undefined;
  try {
    return identityFromPeer(peer, now);
  } catch {
    return undefined;
  }
}
