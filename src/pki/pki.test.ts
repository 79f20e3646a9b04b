import { describe, expect, it } from '@jest/globals';
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
