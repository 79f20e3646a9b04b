import { loadX509 } from './x509.ts';
import { signingAlgorithm, type KeyType } from './keys.ts';

export interface CsrSubject {
  /** Becomes the Kubernetes user name. */
  commonName: string;
  /** Each becomes a Kubernetes group. */
  groups: readonly string[];
}

/** RFC 4514 escaping for one attribute value of a distinguished name. */
export function escapeDnValue(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^[ #]|[ ]$/g, (c) => `\\${c}`);
}

export function subjectDn(subject: CsrSubject): string {
  const parts = [
    `CN=${escapeDnValue(subject.commonName)}`,
    ...subject.groups.map((g) => `O=${escapeDnValue(g)}`),
  ];
  return parts.join(', ');
}

/** A PKCS#10 request for a client certificate, signed with the account's fresh key. */
export async function buildCsrPem(
  subject: CsrSubject,
  keys: CryptoKeyPair,
  keyType: KeyType,
): Promise<string> {
  const x509 = await loadX509();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subjectDn(subject),
    keys,
    signingAlgorithm: signingAlgorithm(keyType),
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  return csr.toString('pem');
}
