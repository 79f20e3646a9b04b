// How kubeusers talks to each LDAP server: TLS from the first byte (ldaps://), StartTLS on ldap://
// before anything else is sent, or plaintext when the operator said so. Whoever can change the
// directory's answers can make anyone an admin, so the server's certificate is always verified
// (chain to the configured CAs, and the host name of the URL); there is no switch to skip that.
import { connect as netConnect, isIP, Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ClientOptions } from 'ldapts';

export type Transport = 'ldaps' | 'starttls' | 'plaintext';

export function transportOf(url: string, startTls: boolean): Transport {
  if (new URL(url).protocol === 'ldaps:') return 'ldaps';
  return startTls ? 'starttls' : 'plaintext';
}

/** The servers that would be spoken to in plaintext, as scheme://host:port (no user info). */
export function plaintextServers(servers: string[], startTls: boolean): string[] {
  return servers.filter((s) => transportOf(s, startTls) === 'plaintext').map(hostOnly);
}

export function hostOnly(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

/**
 * TLS options for one server: trust only `ca` when given (else Node's built-in CAs), and check the
 * certificate against the URL's host, which is also the SNI name unless it is an IP address.
 */
export function tlsOptionsFor(url: string, ca: string | undefined): ConnectionOptions {
  const raw = new URL(url).hostname;
  const host = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  return {
    host,
    ...(isIP(host) === 0 ? { servername: host } : {}),
    ...(ca !== undefined ? { ca } : {}),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}

type Connect = NonNullable<ClientOptions['createConnection']>;
type SecureConnect = NonNullable<ClientOptions['createSecureConnection']>;

/**
 * Connection factories for one ldapts Client that let it connect once. ldapts reopens a closed
 * connection by itself before the next operation: on ldap:// in plaintext, without StartTLS and
 * without a bind, so that operation (its filter, and whatever is answered) would travel in clear to
 * whoever closed the connection. A client whose connection closed is dead instead: each later
 * connect gets a socket already destroyed with `refusal()`, which ldapts's connect rejects with,
 * and nothing is opened. The StartTLS upgrade (one options object that carries the open socket)
 * is not a new connection and is passed through.
 *
 * `closed()` says whether the connection ended: the socket it opened or the TLS socket of its
 * upgrade emitted 'close'. ldapts 9.2 cannot tell after StartTLS (it listens on the plain socket and
 * keeps its state for the TLS one), so its client would go on saying it is connected and bound.
 */
export function connectOnce(
  refusal: () => Error,
  open: { net: Connect; tls: SecureConnect } = { net: netConnect, tls: tlsConnect },
): OneConnection {
  let used = false;
  let closed = false;
  const watched = <S extends Socket>(socket: S): S => socket.once('close', () => (closed = true));
  const once = (connect: () => Socket): Socket => {
    if (used) return new Socket().destroy(refusal());
    used = true;
    return watched(connect());
  };
  return {
    createConnection: (...args: unknown[]) => once(() => Reflect.apply(open.net, undefined, args) as Socket),
    createSecureConnection: ((...args: unknown[]) =>
      isUpgrade(args)
        ? watched(open.tls(args[0]))
        : once(() => Reflect.apply(open.tls, undefined, args) as TLSSocket)) as SecureConnect,
    closed: () => closed,
  };
}

export interface OneConnection {
  createConnection: Connect;
  createSecureConnection: SecureConnect;
  /** The connection was opened and has ended (never true before it was opened). */
  closed: () => boolean;
}

/** ldapts's `startTLS()`: `tls.connect({ ...options, socket })` over the connection it has. */
function isUpgrade(args: unknown[]): args is [ConnectionOptions & { socket: Socket }] {
  const [first] = args;
  return (
    args.length === 1 && typeof first === 'object' && first !== null && 'socket' in first && !!first.socket
  );
}

/** Node's codes for a certificate that failed verification (chain, validity or host name). */
const CERTIFICATE_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'IP_ADDRESS_MISMATCH',
]);

export function certificateErrorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return typeof code === 'string' && CERTIFICATE_CODES.has(code) ? code : undefined;
}
