import { X509Certificate } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { loadX509 } from './x509.ts';
import { readPrivateKeyPem } from './keys.ts';

export type { CertInfo } from '../model/cert-info.ts';
import type { CertInfo } from '../model/cert-info.ts';

const CN = '2.5.4.3';
const O = '2.5.4.10';

export async function parseCertificatePem(pem: string): Promise<X509.X509Certificate> {
  return new (await loadX509()).X509Certificate(pem);
}

export async function certInfo(pem: string): Promise<CertInfo> {
  const cert = await parseCertificatePem(pem);
  const digest = await globalThis.crypto.subtle.digest('SHA-256', cert.rawData);
  const commonNames = cert.subjectName.getField(CN);
  return {
    serial: cert.serialNumber.toLowerCase(),
    fingerprint: Buffer.from(digest).toString('hex'),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    commonName: commonNames[0] ?? '',
    commonNames,
    groups: cert.subjectName.getField(O),
  };
}

/**
 * True when the certificate carries the public half of this private key. The key may be written in
 * any form kubectl reads: PKCS#8 (`PRIVATE KEY`, what kubeusers writes), PKCS#1 (`RSA PRIVATE KEY`,
 * what maintain-kubeusers writes) or SEC1 (`EC PRIVATE KEY`, openssl's own EC form), RSA or ECDSA.
 * A key that is encrypted, of another algorithm, or not a key at all never matches.
 */
// Async as it always was, so that its callers stay as they are.
// eslint-disable-next-line @typescript-eslint/require-await
export async function certMatchesKey(certPem: string, keyPem: string): Promise<boolean> {
  const key = readPrivateKeyPem(keyPem);
  if (!key) return false;
  try {
    return new X509Certificate(certPem).checkPrivateKey(key);
  } catch {
    return false;
  }
}
