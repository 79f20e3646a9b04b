// The certificate matrix of API authentication: certificates made here, presented through a real
// TLS handshake on loopback, and decided by identityFromPeer with an injected clock.
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { x509 } from '../pki/crypto.ts';
import { generateKey, privateKeyPem, signingAlgorithm } from '../pki/keys.ts';
import { caPair } from '../../test/env/pki.ts';
import { HttpError } from './errors.ts';
import { AUTHENTICATED_GROUP, identityFromPeer, peerOf, type PeerView } from './peer-certificate.ts';

const DAY = 86_400_000;
const ALG = signingAlgorithm('ecdsa-p256');
const NOW = new Date();

interface Ca {
  keys: CryptoKeyPair;
  cert: x509.X509Certificate;
  pem: string;
}

async function makeCa(name: string): Promise<Ca> {
  const { keys, cert, pair } = await caPair(name);
  return { keys, cert, pem: pair.cert };
}

/** What a leaf certificate is made of; the modifiers below change one thing each. */
interface LeafSpec {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  usages: string[] | undefined;
  issuer: 'cluster' | 'other' | 'self';
}
type Mod = (s: LeafSpec) => void;
const base = (): LeafSpec => ({
  subject: 'CN=alice, O=kubeusers:admins',
  notBefore: new Date(NOW.getTime() - DAY),
  notAfter: new Date(NOW.getTime() + 30 * DAY),
  usages: [x509.ExtendedKeyUsage.clientAuth],
  issuer: 'cluster',
});
const subject =
  (s: string): Mod =>
  (l) => {
    l.subject = s;
  };
const signedBy =
  (issuer: LeafSpec['issuer']): Mod =>
  (l) => {
    l.issuer = issuer;
  };
const validity =
  (fromDays: number, toDays: number): Mod =>
  (l) => {
    l.notBefore = new Date(NOW.getTime() + fromDays * DAY);
    l.notAfter = new Date(NOW.getTime() + toDays * DAY);
  };
const usages =
  (u: string[] | undefined): Mod =>
  (l) => {
    l.usages = u;
  };

let cluster: Ca;
let other: Ca;
let server: Server;
let port = 0;
let serving: { cert: string; key: string };
/** The server's verdict on the next connection. */
const verdicts: ((p: PeerView | undefined) => void)[] = [];

async function leafPem(spec: LeafSpec): Promise<{ cert: string; key: string }> {
  const keys = await generateKey('ecdsa-p256');
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
  if (spec.usages) extensions.push(new x509.ExtendedKeyUsageExtension(spec.usages));
  const common = {
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    signingAlgorithm: ALG,
    extensions,
  };
  const cert =
    spec.issuer === 'self'
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: spec.subject, keys })
      : await x509.X509CertificateGenerator.create({
          ...common,
          subject: spec.subject,
          issuer: (spec.issuer === 'cluster' ? cluster : other).cert.subject,
          publicKey: keys.publicKey,
          signingKey: (spec.issuer === 'cluster' ? cluster : other).keys.privateKey,
        });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/** Presents the certificate to the server; resolves with what the server saw. */
async function present(pair: { cert: string; key: string }): Promise<PeerView | undefined> {
  const seen = new Promise<PeerView | undefined>((resolve) => verdicts.push(resolve));
  const client = connect({
    host: '127.0.0.1',
    port,
    ca: cluster.pem,
    cert: pair.cert,
    key: pair.key,
    checkServerIdentity: () => undefined,
  });
  client.on('error', () => undefined);
  const peer = await seen;
  client.destroy();
  return peer;
}

beforeAll(async () => {
  cluster = await makeCa('cluster-ca');
  other = await makeCa('cluster-ca');
  serving = await leafPem({
    ...base(),
    subject: 'CN=kubeusers-api',
    usages: [x509.ExtendedKeyUsage.serverAuth],
  });
  server = createServer({
    cert: serving.cert,
    key: serving.key,
    ca: cluster.pem,
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    verdicts.shift()?.(peerOf(socket));
    socket.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

type Outcome = { user: string; groups: string[] } | { refused: string };

function decide(peer: PeerView | undefined, now: Date): Outcome | undefined {
  if (!peer) return undefined;
  try {
    const id = identityFromPeer(peer, now);
    return { user: id.user, groups: id.groups };
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) return { refused: err.code };
    throw err;
  }
}

describe('API authentication: the certificate matrix', () => {
  const cases: [string, Mod[], Outcome, number?][] = [
    [
      'a client certificate of the cluster CA',
      [],
      { user: 'alice', groups: ['kubeusers:admins', AUTHENTICATED_GROUP] },
    ],
    // CA
    ['signed by another CA of the same name', [signedBy('other')], { refused: 'untrusted-certificate' }],
    ['self-signed', [signedBy('self')], { refused: 'untrusted-certificate' }],
    // expiry
    ['expired', [validity(-30, -1)], { refused: 'expired-certificate' }],
    ['not valid yet', [validity(1, 30)], { refused: 'certificate-not-yet-valid' }],
    [
      'expired by our clock although the handshake took it',
      [validity(-1, 1)],
      { refused: 'expired-certificate' },
      2 * DAY,
    ],
    ['not valid yet by our clock', [validity(-1, 1)], { refused: 'certificate-not-yet-valid' }, -2 * DAY],
    // usages
    [
      'made for server authentication',
      [usages([x509.ExtendedKeyUsage.serverAuth])],
      { refused: 'wrong-certificate-usage' },
    ],
    ['with no extended key usage', [usages(undefined)], { refused: 'wrong-certificate-usage' }],
    [
      'made for client and server authentication',
      [usages([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth])],
      { user: 'alice', groups: ['kubeusers:admins', AUTHENTICATED_GROUP] },
    ],
    // common names and organisations
    [
      'two common names',
      [subject('CN=alice, CN=bob, O=kubeusers:admins')],
      { refused: 'untrusted-certificate' },
    ],
    ['no common name', [subject('O=kubeusers:admins')], { refused: 'untrusted-certificate' }],
    ['no organisation', [subject('CN=alice')], { user: 'alice', groups: [AUTHENTICATED_GROUP] }],
    [
      'several organisations',
      [subject('CN=tools.x, O=kubeusers:tools, O=kubeusers:tool:x:3, O=toolforge')],
      {
        user: 'tools.x',
        groups: ['kubeusers:tools', 'kubeusers:tool:x:3', 'toolforge', AUTHENTICATED_GROUP],
      },
    ],
    [
      'the same organisation twice',
      [subject('CN=alice, O=kubeusers:admins, O=kubeusers:admins')],
      { user: 'alice', groups: ['kubeusers:admins', AUTHENTICATED_GROUP] },
    ],
  ];
  it.each(cases)('%s', async (_, mods, outcome, skewMs = 0) => {
    const spec = base();
    for (const m of mods) m(spec);
    const peer = await present(await leafPem(spec));
    expect(decide(peer, new Date(NOW.getTime() + skewMs))).toEqual(outcome);
  });

  it('no certificate at all is no certificate identity (a token may follow)', async () => {
    const seen = new Promise<PeerView | undefined>((resolve) => verdicts.push(resolve));
    const client = connect({
      host: '127.0.0.1',
      port,
      ca: cluster.pem,
      checkServerIdentity: () => undefined,
    });
    client.on('error', () => undefined);
    expect(await seen).toBeUndefined();
    client.destroy();
  });
});

// Revoked, superseded and foreign epochs (and the revocations ledger) are refused after
// identityFromPeer, in auth.ts through credential.ts: their table is src/api/credential.test.ts.
