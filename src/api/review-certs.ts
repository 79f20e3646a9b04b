// The certificate a credential review is asked about, checked against the cluster CA here too: the
// caller (a gateway) verified it already, but a review must not take its word for it. A verified
// certificate is remembered by its fingerprint (its bytes cannot change), and by the text it came in
// as (nginx sends the same escaped PEM for the same certificate), so a gateway asking about the same
// credential again costs one lookup: no decoding, parsing or digest.
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
  /** By the text as received: a few KB a key, so fewer of them. */
  readonly #byText = new Map<string, VerifiedCertificate>();
  readonly #maxText: number;

  /** `caPem` is read at every review, so a rotated bundle counts at once (and clears the memory). */
  constructor(caPem: () => string, maxEntries = 10_000, maxTexts = 1_000) {
    this.#caPem = caPem;
    this.#max = maxEntries;
    this.#maxText = maxTexts;
  }

  /**
   * The certificate in a text `decode` turns into PEM (nginx's URL-escaped form): remembered by the
   * text itself when verified, so every caller must pass the same `decode` (the route's
   * decodeURIComponent). `decode` may throw; nothing is remembered then.
   */
  verifyText(text: string, decode: (text: string) => string): VerifiedCertificate | undefined {
    this.#refresh();
    const known = this.#byText.get(text);
    if (known) return known;
    const verified = this.verify(decode(text));
    if (verified) bounded(this.#byText, this.#maxText, text, verified);
    return verified;
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
    if (verified) bounded(this.#memory, this.#max, fingerprint, verified);
    return verified;
  }

  #refresh(): void {
    const pem = this.#caPem();
    if (pem === this.#source) return;
    this.#source = pem;
    this.#cas = parseBundle(pem);
    this.#memory.clear();
    this.#byText.clear();
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
}

/** Sets a key in a map of at most `max` entries, the oldest dropped first. */
function bounded<V>(map: Map<string, V>, max: number, key: string, value: V): void {
  while (map.size >= max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
  if (max > 0) map.set(key, value);
}
