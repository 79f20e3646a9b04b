// The certificate a credential review is asked about: verified against the CA bundle read at every
// review, and remembered by fingerprint and by the text it came in as, never across a CA change.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { x509 } from '../pki/crypto.ts';
import { generateKey, signingAlgorithm } from '../pki/keys.ts';
import { caPair } from '../../test/env/pki.ts';
import { CertificateVerifier } from './review-certs.ts';

const DAY = 86_400_000;
const ALG = signingAlgorithm('ecdsa-p256');
const NOW = new Date();

async function makeCa(name: string): Promise<{ keys: CryptoKeyPair; pem: string; name: string }> {
  const { keys, pair } = await caPair(name);
  return { keys, pem: pair.cert, name };
}

async function leaf(ca: { keys: CryptoKeyPair; name: string }, subject: string): Promise<string> {
  const keys = await generateKey('ecdsa-p256');
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: `CN=${ca.name}`,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + 30 * DAY),
    signingAlgorithm: ALG,
    serialNumber: '0a1b',
  });
  return cert.toString('pem');
}

let cluster: Awaited<ReturnType<typeof makeCa>>;
let other: Awaited<ReturnType<typeof makeCa>>;
let tool: string;
let stranger: string;

beforeAll(async () => {
  cluster = await makeCa('cluster');
  other = await makeCa('other');
  tool = await leaf(cluster, 'CN=tf.alpha, O=kubeusers:kubeusers:tool:alpha:e1');
  stranger = await leaf(other, 'CN=tf.alpha, O=kubeusers:kubeusers:tool:alpha:e1');
});

/** A decoder that counts its calls: a remembered text is not decoded again. */
function counting(): { decode: (t: string) => string; calls: () => number } {
  let n = 0;
  return {
    decode: (t) => {
      n++;
      return decodeURIComponent(t);
    },
    calls: () => n,
  };
}

describe('CertificateVerifier.verifyText', () => {
  it('reads serial, groups and window from a certificate the bundle signed', () => {
    const v = new CertificateVerifier(() => cluster.pem);
    const got = v.verifyText(encodeURIComponent(tool), decodeURIComponent);
    expect(got).toMatchObject({ serial: '0a1b', groups: ['kubeusers:kubeusers:tool:alpha:e1'] });
    expect(got?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  type Seen = { first: unknown; second: unknown; decodes: number };
  /** Each case asks twice, with a decoder that counts its calls. */
  const cases: { name: string; want: Seen; run: (decode: (t: string) => string) => Omit<Seen, 'decodes'> }[] =
    [
      {
        name: 'a verified text is remembered: asked again, it is not decoded',
        want: { first: '0a1b', second: '0a1b', decodes: 1 },
        run: (decode) => {
          const v = new CertificateVerifier(() => cluster.pem);
          const first = v.verifyText(encodeURIComponent(tool), decode)?.serial;
          return { first, second: v.verifyText(encodeURIComponent(tool), decode)?.serial };
        },
      },
      {
        name: 'a certificate of another CA is refused, and not remembered',
        want: { first: undefined, second: undefined, decodes: 2 },
        run: (decode) => {
          const v = new CertificateVerifier(() => cluster.pem);
          const first = v.verifyText(encodeURIComponent(stranger), decode);
          return { first, second: v.verifyText(encodeURIComponent(stranger), decode) };
        },
      },
      {
        name: 'a CA bundle changed under it forgets what the old one verified',
        want: { first: '0a1b', second: undefined, decodes: 2 },
        run: (decode) => {
          let bundle = cluster.pem;
          const v = new CertificateVerifier(() => bundle);
          const first = v.verifyText(encodeURIComponent(tool), decode)?.serial;
          bundle = other.pem;
          return { first, second: v.verifyText(encodeURIComponent(tool), decode) };
        },
      },
      {
        name: 'a text that is not a certificate is refused each time it comes',
        want: { first: undefined, second: undefined, decodes: 2 },
        run: (decode) => {
          const v = new CertificateVerifier(() => cluster.pem);
          const first = v.verifyText('not%20a%20certificate', decode);
          return { first, second: v.verifyText('not%20a%20certificate', decode) };
        },
      },
    ];
  it.each(cases)('$name', ({ want, run }) => {
    const c = counting();
    expect({ ...run(c.decode), decodes: c.calls() }).toEqual(want);
  });

  it('a text that does not decode throws, and is not remembered', () => {
    const v = new CertificateVerifier(() => cluster.pem);
    expect(() => v.verifyText('%E0%A4%A', decodeURIComponent)).toThrow(URIError);
    expect(() => v.verifyText('%E0%A4%A', decodeURIComponent)).toThrow(URIError);
  });

  it('keeps at most maxTexts texts, the oldest dropped first', () => {
    const v = new CertificateVerifier(() => cluster.pem, 10, 1);
    const c = counting();
    const a = encodeURIComponent(tool);
    const b = encodeURIComponent(`\n${tool}`);
    v.verifyText(a, c.decode);
    v.verifyText(b, c.decode);
    v.verifyText(a, c.decode);
    expect(c.calls()).toBe(3);
  });
});
