// A man in the middle between kubeusers and slapd, for the LDAP transport attack tests: it relays
// every byte to the real slapd's plain port and keeps what the client sent it in clear, so a test
// can tell whether the bind password reached the attacker. It speaks to the client as
//   plain    — a transparent relay, bytes unchanged both ways (what anyone on the path sees: all of a
//              plaintext session; of a StartTLS session, negotiated end to end with slapd, only the
//              request for it);
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
  /** Every relayed connection, in the order they were opened, with what the attacker could read. */
  flows(): Flow[];
  /**
   * Ends every relayed connection at once, as an RST injected on the path would: the client's side
   * is reset (a TCP RST, not a FIN), the server's closed. Later connections are relayed as before.
   */
  reset(): void;
  /** Arms one reset, right after the next bytes from the server were handed to the client. */
  resetAfterNextAnswer(): void;
  close(): Promise<void>;
}

export interface Flow {
  /** How many resets came before this connection was opened. */
  epoch: number;
  /** What the client sent, as the attacker read it. */
  sent: Buffer;
  /** What the server answered, as the attacker read it. */
  received: Buffer;
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

/**
 * The LDAP operations at the start of `sent` that anyone on the path could read, as
 * `<protocolOp tag>` or `starttls`; reading stops at the first byte that is not an LDAPMessage (a
 * TLS record) and after a StartTLS request (what follows it is TLS).
 */
export function clearOperations(sent: Buffer): string[] {
  const ops: string[] = [];
  let at = 0;
  while (at < sent.length && sent[at] === 0x30) {
    const body = berLength(sent, at + 1);
    if (!body) break;
    const id = berLength(sent, body.start + 1);
    const op = id ? sent[id.start + id.length] : undefined;
    if (op === undefined) break;
    const message = sent.subarray(at, body.start + body.length);
    if (op === 0x77 && message.includes(Buffer.from(STARTTLS_OID, 'latin1'))) {
      ops.push('starttls');
      break;
    }
    ops.push(`0x${op.toString(16)}`);
    at = body.start + body.length;
  }
  return ops;
}

/** A BER length at `at`: where the value starts and how long it is. */
function berLength(b: Buffer, at: number): { start: number; length: number } | undefined {
  const first = b[at];
  if (first === undefined) return undefined;
  if (first < 0x80) return { start: at + 1, length: first };
  const n = first & 0x7f;
  if (n === 0 || n > 4 || at + n >= b.length) return undefined;
  return { start: at + 1 + n, length: b.subarray(at + 1, at + 1 + n).readUIntBE(0, n) };
}

export async function startInterceptor(
  mode: InterceptMode,
  upstreamUrl: string,
  certificate?: Pair,
): Promise<Interceptor> {
  if (mode !== 'plain' && !certificate) throw new Error(`a ${mode} interceptor needs a certificate`);
  const upstream = new URL(upstreamUrl);
  const chunks: Buffer[] = [];
  const count = { connections: 0, handshakes: 0 };
  const sockets = new Set<Socket>();
  const flows: { epoch: number; sent: Buffer[]; received: Buffer[] }[] = [];
  /** The client sides of the connections, as TCP sockets (a reset is sent on these). */
  const clientSides = new Set<Socket>();
  let epoch = 0;
  let resetArmed = false;
  const reset = (): void => {
    epoch += 1;
    for (const s of clientSides) if (!s.destroyed) s.resetAndDestroy();
  };
  const relay = (client: Socket): void => {
    const server = connect(Number(upstream.port), upstream.hostname);
    sockets.add(server);
    const flow = { epoch, sent: [] as Buffer[], received: [] as Buffer[] };
    flows.push(flow);
    client.on('data', (c: Buffer) => {
      chunks.push(Buffer.from(c));
      flow.sent.push(Buffer.from(c));
    });
    client.pipe(server);
    server.on('data', (c: Buffer) => {
      flow.received.push(Buffer.from(c));
      const then = resetArmed ? reset : undefined;
      resetArmed = false;
      client.write(c, then);
    });
    const end = (): void => {
      client.destroy();
      server.destroy();
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
  };
  const overTls = (raw: Socket): void => {
    const tls = new TLSSocket(raw, { isServer: true, cert: certificate!.cert, key: certificate!.key });
    tls.once('secure', () => {
      count.handshakes += 1;
      relay(tls);
    });
    tls.on('error', () => raw.destroy());
  };
  const srv: Server = createServer((socket) => {
    count.connections += 1;
    sockets.add(socket);
    clientSides.add(socket);
    socket.on('close', () => clientSides.delete(socket));
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
    flows: () =>
      flows.map((f) => ({
        epoch: f.epoch,
        sent: Buffer.concat(f.sent),
        received: Buffer.concat(f.received),
      })),
    reset,
    resetAfterNextAnswer: () => {
      resetArmed = true;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}
