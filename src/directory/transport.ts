// How kubeusers talks to each LDAP server: TLS from the first byte (ldaps://), StartTLS on ldap://
// before anything else is sent, or plaintext when the operator said so. Whoever can change the
// directory's answers can make anyone an admin, so the server's certificate is always verified
// (chain to the configured CAs, and the host name of the URL); there is no switch to skip that.
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client } from 'ldapts';

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

/**
 * A client for one server, as kubeusers makes every one. TLS options go to ldaps:// only: given on
 * ldap:// they would make ldapts speak TLS from the first byte instead of StartTLS.
 */
export function ldapClient(
  url: string,
  transport: Transport,
  tls: ConnectionOptions,
  timeoutMs: number,
): Client {
  return new Client({
    url,
    timeout: timeoutMs,
    connectTimeout: timeoutMs,
    ...(transport === 'ldaps' ? { tlsOptions: tls } : {}),
  });
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
