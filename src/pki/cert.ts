import { subtle, x509 } from './crypto.ts';

export interface CertInfo {
  serial: string;
  /** SHA-256 of the DER certificate, lower-case hex. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  commonName: string;
  /** Every CN of the subject: a certificate with more than one is ambiguous about its user. */
  commonNames: string[];
  groups: string[];
}

const CN = '2.5.4.3';
const O = '2.5.4.10';

export function parseCertificatePem(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

export async function certInfo(pem: string): Promise<CertInfo> {
  const cert = parseCertificatePem(pem);
  const digest = await subtle.digest('SHA-256', cert.rawData);
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

/** True when the certificate carries the public half of this private key (PKCS#8 PEM). */
export async function certMatchesKey(certPem: string, keyPem: string): Promise<boolean> {
  const cert = parseCertificatePem(certPem);
  const certSpki = Buffer.from(cert.publicKey.rawData);
  const key = await importAnyPrivateKey(keyPem);
  if (!key) return false;
  const jwk = await subtle.exportKey('jwk', key);
  delete jwk.d;
  delete jwk.p;
  delete jwk.q;
  delete jwk.dp;
  delete jwk.dq;
  delete jwk.qi;
  const usages: KeyUsage[] = ['verify'];
  const pub = await subtle.importKey('jwk', { ...jwk, key_ops: usages }, key.algorithm, true, usages);
  const keySpki = Buffer.from(await subtle.exportKey('spki', pub));
  return certSpki.equals(keySpki);
}

async function importAnyPrivateKey(pem: string): Promise<CryptoKey | undefined> {
  const der = x509.PemConverter.decodeFirst(pem);
  const candidates: (EcKeyImportParams | RsaHashedImportParams)[] = [
    { name: 'ECDSA', namedCurve: 'P-256' },
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ];
  for (const algorithm of candidates) {
    try {
      return await subtle.importKey('pkcs8', der, algorithm, true, ['sign']);
    } catch {
      // try the next algorithm
    }
  }
  return undefined;
}
