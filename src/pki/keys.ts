import { createPrivateKey, type KeyObject } from 'node:crypto';
import { loadX509 } from './x509.ts';

const subtle: SubtleCrypto = globalThis.crypto.subtle;

export const KEY_TYPES = ['ecdsa-p256', 'rsa-2048', 'rsa-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

type KeyAlgorithm = EcKeyGenParams | RsaHashedKeyGenParams;

const ALGORITHMS: Record<KeyType, KeyAlgorithm> = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'rsa-2048': {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
  'rsa-4096': {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 4096,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
};

/** The algorithm to sign with for a key of this type (ECDSA needs the hash named at signing time). */
export function signingAlgorithm(type: KeyType): Algorithm | EcdsaParams {
  return type === 'ecdsa-p256' ? { name: 'ECDSA', hash: 'SHA-256' } : ALGORITHMS[type];
}

export async function generateKey(type: KeyType): Promise<CryptoKeyPair> {
  return subtle.generateKey(ALGORITHMS[type], true, ['sign', 'verify']);
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await subtle.exportKey('pkcs8', key);
  return (await loadX509()).PemConverter.encode(der, 'PRIVATE KEY');
}

export async function publicKeyPem(key: CryptoKey): Promise<string> {
  const der = await subtle.exportKey('spki', key);
  return (await loadX509()).PemConverter.encode(der, 'PUBLIC KEY');
}

/** Reads back a PKCS#8 PEM key of a known type (the signer's own CA in tests). A key found in a home is read by readPrivateKeyPem. */
export async function importPrivateKeyPem(pem: string, type: KeyType): Promise<CryptoKey> {
  const der = (await loadX509()).PemConverter.decodeFirst(pem);
  return subtle.importKey('pkcs8', der, ALGORITHMS[type], true, ['sign']);
}

/** PEM labels of an unencrypted private key kubectl reads: PKCS#8, PKCS#1 (RSA) and SEC1 (EC). */
const PRIVATE_KEY_LABELS: readonly string[] = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'];
/** A PEM block's first line; the label is bounded so that no input makes the scan more than linear. */
const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]{1,64})-----/g;

/**
 * The private key of a PEM text when it is an unencrypted RSA or ECDSA key, undefined otherwise.
 * The key is the first block labelled `PRIVATE KEY` or `... PRIVATE KEY`, as kubectl picks it (other
 * blocks, such as the `EC PARAMETERS` that `openssl ecparam -genkey` writes first, are skipped). An
 * encrypted key is refused (kubectl could not use it either); no passphrase is ever asked for. The
 * text comes from a home (at most 1 MiB): it is scanned once, whatever it holds.
 */
export function readPrivateKeyPem(pem: string): KeyObject | undefined {
  for (const begin of pem.matchAll(PEM_BEGIN)) {
    const label = begin[1] ?? '';
    if (label !== 'PRIVATE KEY' && !label.endsWith(' PRIVATE KEY')) continue;
    if (!PRIVATE_KEY_LABELS.includes(label)) return undefined;
    const endMarker = `-----END ${label}-----`;
    const end = pem.indexOf(endMarker, begin.index);
    if (end < 0) return undefined;
    const block = pem.slice(begin.index, end + endMarker.length);
    if (block.includes('Proc-Type:')) return undefined;
    try {
      const key = createPrivateKey({ key: block, format: 'pem' });
      return key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'ec' ? key : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
