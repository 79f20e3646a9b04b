// @peculiar/x509 (with reflect-metadata) costs a one-shot ~0.4 s CPU and ~35 MB to import: it is loaded
// the first time a certificate, a CSR or a PEM key is actually built or parsed with it, not at start-up.
import type * as X509 from '@peculiar/x509';

let loading: Promise<typeof X509> | undefined;

export function loadX509(): Promise<typeof X509> {
  return (loading ??= import('./crypto.ts').then((m) => m.x509));
}
