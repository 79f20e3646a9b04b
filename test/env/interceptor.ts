// A man in the middle between kubeusers and slapd, for the LDAP transport attack tests: it relays
// every byte to the real slapd's plain port and keeps what the client sent it in clear, so a test
// can tell whether the bind password reached the attacker. It speaks to the client as
//   plain    — a relay of the plaintext protocol (what anyone on the path sees without TLS);
//   ldaps    — TLS from the first byte, with the attacker's certificate;
//   starttls — plaintext until the client's StartTLS request, which it answers "success" itself,
//              then TLS with the attacker's certificate;
//   strip    — answers StartTLS with "unavailable" and relays whatever follows in plaintext (the
//              downgrade a client that falls back to plaintext would accept).
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Pair } from './pki.ts';

export type InterceptMode = 'plain' | 'ldaps' | 'starttls' | 'strip';

export interface Interceptor {
  url: string;
  /** Everything a client sent that the attacker could read (after its TLS, if the client went on). */
  seen(): Buffer;
  /** Connections a client opened, and TLS handshakes that completed with the attacker's certificate. */
  counts(): { connections: number; handshakes: number };
  close(): Promise<void>;
}

const STARTTLS_OID = '1.3.6.1.4.1.1466.20037';

/**
 * The ExtendedResponse (`resultCode`, responseName = the StartTLS OID) for the request's message
 * id: 0 success, 52 unavailable. BER by hand: a test double, small enough not to need an encoder.
 */
export function startTlsResponse(request: Buffer, resultCode: number): Buffer {
  // LDAPMessage ::= SEQUENCE (0x30, short length) { messageID INTEGER (0x02 len bytes) … }
  if (request[0] !== 0x30 || request[2] !== 0x02) throw new Error('not an LDAP message');
  const idTlv = request.subarray(2, 4 + request[3]!);
  const oid = Buffer.from(STARTTLS_OID, 'latin1');
  const op = Buffer.concat([
    Buffer.from([0x0a, 0x01, resultCode, 0x04, 0x00, 0x04, 0x00, 0x8a, oid.length]),
    oid,
  ]);
  const body = Buffer.concat([idTlv, Buffer.from([0x78, op.length]), op]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

export async function startInterceptor(
  mode: InterceptMode,
  upstreamUrl: string,
  certificate: Pair,
): Promise<Interceptor> {
  const upstream = new URL(upstreamUrl);
  const chunks: Buffer[] = [];
  const count = { connections: 0, handshakes: 0 };
  const sockets = new Set<Socket>();
  const relay = (client: Socket): void => {
    const server = connect(Number(upstream.port), upstream.hostname);
    sockets.add(server);
    client.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    client.pipe(server).pipe(client);
    const end = (): void => {
      client.destroy();
      server.destroy();
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
  };
  const overTls = (raw: Socket): void => {
    const tls = new TLSSocket(raw, { isServer: true, cert: certificate.cert, key: certificate.key });
    tls.once('secure', () => {
      count.handshakes += 1;
      relay(tls);
    });
    tls.on('error', () => raw.destroy());
  };
  const srv: Server = createServer((socket) => {
    count.connections += 1;
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    if (mode === 'plain') return relay(socket);
    if (mode === 'ldaps') return overTls(socket);
    socket.once('data', (request: Buffer) => {
      // The StartTLS request carries no secret; anything else first would be plaintext LDAP.
      if (!request.includes(Buffer.from(STARTTLS_OID, 'latin1'))) {
        chunks.push(Buffer.from(request));
        return socket.destroy();
      }
      if (mode === 'strip') socket.write(startTlsResponse(request, 52), () => relay(socket));
      else socket.write(startTlsResponse(request, 0), () => overTls(socket));
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `${mode === 'ldaps' ? 'ldaps' : 'ldap'}://127.0.0.1:${port}`,
    seen: () => Buffer.concat(chunks),
    counts: () => ({ ...count }),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}
