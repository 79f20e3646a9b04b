// The certificate a credential review is asked about, checked against the cluster CA here too: the
// caller (a gateway) verified it already, but a review must not take its word for it. A verified
// certificate is remembered by its fingerprint (its bytes cannot change), so a gateway asking about
// the same credential again costs a digest and a lookup.
import { createHash, X509Certificate } from 'node:crypto';
import { x509 } from '../pki/crypto.ts';
import type { VerifiedCertificate } from './review.ts';

const O = '2.5.4.10';
const PEM = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/;

/** The DER of the first certificate in a PEM text, or undefined. */
export function pemToDer(pem: string): Buffer | undefined {
  const m = PEM.exec(pem);
  if (!m) return undefined;
  const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  return der.length > 0 ? der : undefined;
}

/** A PEM bundle's certificates (a CA being rotated has two). */
export function parseBundle(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const m of pem.matchAll(new RegExp(PEM.source, 'g'))) {
    try {
      out.push(new X509Certificate(m[0]));
    } catch {
      // Not a certificate: the bundle's other entries still count.
    }
  }
  return out;
}

export class CertificateVerifier {
  readonly #caPem: () => string;
  readonly #max: number;
  #source = '';
  #cas: X509Certificate[] = [];
  readonly #memory = new Map<string, VerifiedCertificate>();

  /** `caPem` is read at every review, so a rotated bundle counts at once (and clears the memory). */
  constructor(caPem: () => string, maxEntries = 10_000) {
    this.#caPem = caPem;
    this.#max = maxEntries;
  }

  /** The certificate, when it is one and a CA of the bundle signed it; undefined otherwise. */
  verify(pem: string): VerifiedCertificate | undefined {
    this.#refresh();
    const der = pemToDer(pem);
    if (!der) return undefined;
    const fingerprint = createHash('sha256').update(der).digest('hex');
    const known = this.#memory.get(fingerprint);
    if (known) return known;
    const verified = this.#check(der, fingerprint);
    if (verified) this.#remember(verified);
    return verified;
  }

  #refresh(): void {
    const pem = this.#caPem();
    if (pem === this.#source) return;
    this.#source = pem;
    this.#cas = parseBundle(pem);
    this.#memory.clear();
  }

  #check(der: Buffer, fingerprint: string): VerifiedCertificate | undefined {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return undefined;
    }
    if (!this.#cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) return undefined;
    const parsed = new x509.X509Certificate(new Uint8Array(der));
    return {
      fingerprint,
      serial: parsed.serialNumber.toLowerCase(),
      groups: parsed.subjectName.getField(O),
      notBefore: parsed.notBefore,
      notAfter: parsed.notAfter,
    };
  }

  #remember(v: VerifiedCertificate): void {
    while (this.#memory.size >= this.#max) {
      const oldest = this.#memory.keys().next();
      if (oldest.done) break;
      this.#memory.delete(oldest.value);
    }
    if (this.#max > 0) this.#memory.set(v.fingerprint, v);
  }
}
