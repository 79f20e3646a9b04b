import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { x509 } from './crypto.ts';
import { buildCsrPem, escapeDnValue, subjectDn } from './csr.ts';
import { certInfo, certMatchesKey } from './cert.ts';
import { generateKey, KEY_TYPES, privateKeyPem, signingAlgorithm, type KeyType } from './keys.ts';

async function selfSigned(type: KeyType, name: string) {
  const keys = await generateKey(type);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name,
    keys,
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-02-01T00:00:00Z'),
    signingAlgorithm: signingAlgorithm(type),
  });
  return { keys, pem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

describe('subject names', () => {
  const cases: [string, string, string][] = [
    ['plain', 'tool-foo', 'tool-foo'],
    ['comma', 'a,b', 'a\\,b'],
    ['plus and equals', 'a+b=c', 'a\\+b\\=c'],
    ['leading hash', '#x', '\\#x'],
    ['trailing space', 'x ', 'x\\ '],
  ];
  it.each(cases)('escapes %s', (_, raw, escaped) => expect(escapeDnValue(raw)).toBe(escaped));

  it('puts the account in CN and each group in its own O', () => {
    expect(subjectDn({ commonName: 'tool-foo', groups: ['kubeusers:tool-foo:e1', 'toolforge:tools'] })).toBe(
      'CN=tool-foo, O=kubeusers:tool-foo:e1, O=toolforge:tools',
    );
  });
});

describe.each(KEY_TYPES.filter((t) => t !== 'rsa-4096'))('keys of type %s', (type) => {
  it('build a CSR whose subject and key round-trip', async () => {
    const keys = await generateKey(type);
    const pem = await buildCsrPem({ commonName: 'tool-a', groups: ['g1', 'g2'] }, keys, type);
    const csr = new x509.Pkcs10CertificateRequest(pem);
    expect(await csr.verify()).toBe(true);
    expect(csr.subjectName.getField('2.5.4.3')).toEqual(['tool-a']);
    expect(csr.subjectName.getField('2.5.4.10')).toEqual(['g1', 'g2']);
  });

  it('match their own certificate and no other', async () => {
    const a = await selfSigned(type, 'CN=a, O=g');
    const b = await selfSigned(type, 'CN=b');
    expect(await certMatchesKey(a.pem, a.keyPem)).toBe(true);
    expect(await certMatchesKey(a.pem, b.keyPem)).toBe(false);
  });
});

describe('certificate facts', () => {
  it('reads serial, SHA-256 fingerprint, validity, CN and groups', async () => {
    const { pem } = await selfSigned('ecdsa-p256', 'CN=tool-x, O=grp-1, O=grp-2');
    const info = await certInfo(pem);
    expect(info.commonName).toBe('tool-x');
    expect(info.groups).toEqual(['grp-1', 'grp-2']);
    expect(info.notBefore.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(info.notAfter.toISOString()).toBe('2026-02-01T00:00:00.000Z');
    expect(info.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(info.serial).toMatch(/^[0-9a-f]+$/);
  });

  it('rejects text that is not a certificate', async () => {
    await expect(certInfo('not a certificate')).rejects.toThrow();
  });
});

describe('certMatchesKey: every form of key kubectl reads, written by node:crypto (not by kubeusers)', () => {
  const certs: Partial<Record<'rsa' | 'ec', { pem: string; key: KeyObject }>> = {};
  beforeAll(async () => {
    for (const [alg, type] of [
      ['rsa', 'rsa-2048'],
      ['ec', 'ecdsa-p256'],
    ] as const) {
      const c = await selfSigned(type, `CN=${alg}, O=toolforge`);
      certs[alg] = { pem: c.pem, key: KeyObject.from(c.keys.privateKey) };
    }
  });
  const key = (alg: 'rsa' | 'ec') => certs[alg]!.key;
  const ecParams = '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n';
  const cases: [string, 'rsa' | 'ec', () => string, boolean][] = [
    [
      'RSA, PKCS#1 (maintain-kubeusers)',
      'rsa',
      () => key('rsa').export({ type: 'pkcs1', format: 'pem' }) as string,
      true,
    ],
    ['RSA, PKCS#8', 'rsa', () => key('rsa').export({ type: 'pkcs8', format: 'pem' }) as string, true],
    [
      'RSA, PKCS#1 with CRLF line ends',
      'rsa',
      () => (key('rsa').export({ type: 'pkcs1', format: 'pem' }) as string).replace(/\n/g, '\r\n'),
      true,
    ],
    ['ECDSA, SEC1', 'ec', () => key('ec').export({ type: 'sec1', format: 'pem' }) as string, true],
    [
      'ECDSA, SEC1 after its EC PARAMETERS block (openssl ecparam -genkey)',
      'ec',
      () => ecParams + (key('ec').export({ type: 'sec1', format: 'pem' }) as string),
      true,
    ],
    ['ECDSA, PKCS#8', 'ec', () => key('ec').export({ type: 'pkcs8', format: 'pem' }) as string, true],
    ["another RSA key's PKCS#1", 'rsa', () => rsaOther('pkcs1'), false],
    [
      'the RSA key for the ECDSA certificate',
      'ec',
      () => key('rsa').export({ type: 'pkcs1', format: 'pem' }) as string,
      false,
    ],
    [
      'RSA, PKCS#1 encrypted (Proc-Type)',
      'rsa',
      () =>
        key('rsa').export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string,
      false,
    ],
    [
      'RSA, PKCS#8 encrypted',
      'rsa',
      () =>
        key('rsa').export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string,
      false,
    ],
    [
      'Ed25519 (another algorithm)',
      'ec',
      () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      false,
    ],
    ['the certificate itself', 'rsa', () => certs.rsa!.pem, false],
    ['not PEM at all', 'rsa', () => 'not a key', false],
    ['a BEGIN line without its END', 'rsa', () => '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n', false],
    // A megabyte from a home, as hostile as it gets for a scan that looks for each block's END.
    ['a megabyte of BEGIN lines and no END', 'rsa', () => '-----BEGIN X-----\n'.repeat(60_000), false],
  ];
  it.each(cases)('%s', async (_, alg, keyPem, expected) => {
    expect(await certMatchesKey(certs[alg]!.pem, keyPem())).toBe(expected);
  });
});

function rsaOther(type: 'pkcs1' | 'pkcs8'): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type,
    format: 'pem',
  }) as string;
}
