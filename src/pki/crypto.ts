// Node's own WebCrypto covers every algorithm kubeusers uses (ECDSA P-256, RSASSA-PKCS1-v1_5 2048/4096,
// SHA-256), so @peculiar/x509 is pointed at it instead of @peculiar/webcrypto.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
export const subtle: SubtleCrypto = globalThis.crypto.subtle;
