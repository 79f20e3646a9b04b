// The environment's own PKI: one CA that serves as the apiserver's client CA and as the
// signer of kubernetes.io/kube-apiserver-client, a serving cert, client certs and SA keys.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { x509 } from '../../src/pki/crypto.ts';
import { generateKey, privateKeyPem, publicKeyPem, signingAlgorithm } from '../../src/pki/keys.ts';

const DAY = 86_400_000;
const ALG = signingAlgorithm('ecdsa-p256');

export interface Pair {
  cert: string;
  key: string;
}

export interface ClusterPki {
  ca: Pair;
  serving: Pair;
  admin: Pair;
  controllerManager: Pair;
  serviceAccount: { key: string; pub: string };
}

/** A self-signed CA made now (valid from a day ago for a year): the environment's, or a unit test's. */
export async function caPair(
  name: string,
): Promise<{ pair: Pair; keys: CryptoKeyPair; cert: x509.X509Certificate }> {
  const keys = await generateKey('ecdsa-p256');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${name}`,
    keys,
    notBefore: new Date(new Date().getTime() - DAY),
    notAfter: new Date(new Date().getTime() + 365 * DAY),
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { pair: { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) }, keys, cert };
}

interface LeafSpec {
  subject: string;
  server?: { dns: string[]; ips: string[] };
  /** Defaults: from a day ago for a year. */
  notBefore?: Date;
  notAfter?: Date;
}

async function leaf(ca: { keys: CryptoKeyPair; cert: x509.X509Certificate }, spec: LeafSpec): Promise<Pair> {
  const keys = await generateKey('ecdsa-p256');
  const usage = spec.server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension([usage]),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  if (spec.server) {
    const names = [
      ...spec.server.dns.map((value) => ({ type: 'dns' as const, value })),
      ...spec.server.ips.map((value) => ({ type: 'ip' as const, value })),
    ];
    extensions.push(new x509.SubjectAlternativeNameExtension(names));
  }
  const cert = await x509.X509CertificateGenerator.create({
    subject: spec.subject,
    issuer: ca.cert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    notBefore: spec.notBefore ?? new Date(new Date().getTime() - DAY),
    notAfter: spec.notAfter ?? new Date(new Date().getTime() + 365 * DAY),
    signingAlgorithm: ALG,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

export async function makeClusterPki(): Promise<ClusterPki> {
  const ca = await caPair('kubeusers-test-ca');
  const sa = await generateKey('ecdsa-p256');
  const serving = await leaf(ca, {
    subject: 'CN=kube-apiserver',
    server: {
      dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ips: ['127.0.0.1', '10.96.0.1'],
    },
  });
  return {
    ca: ca.pair,
    serving,
    admin: await leaf(ca, { subject: 'CN=kubernetes-admin, O=system:masters' }),
    controllerManager: await leaf(ca, { subject: 'CN=system:kube-controller-manager' }),
    serviceAccount: { key: await privateKeyPem(sa.privateKey), pub: await publicKeyPem(sa.publicKey) },
  };
}

export async function writePair(
  dir: string,
  name: string,
  pair: Pair,
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await writeFile(cert, pair.cert, { mode: 0o644 });
  await writeFile(key, pair.key, { mode: 0o600 });
  return { cert, key };
}

/** A serving certificate signed by an existing CA (the admin API's, in tests). */
export async function servingPairFrom(
  caCertPem: string,
  caKeyPem: string,
  ips: string[],
  dns: string[],
  subject = 'CN=kubeusers-api',
): Promise<Pair> {
  const { importPrivateKeyPem } = await import('../../src/pki/keys.ts');
  const cert = new x509.X509Certificate(caCertPem);
  const privateKey = await importPrivateKeyPem(caKeyPem, 'ecdsa-p256');
  return leaf(
    { cert, keys: { privateKey, publicKey: await cert.publicKey.export() } },
    { subject, server: { dns, ips } },
  );
}

/** A client certificate signed by an existing CA (a gateway's own, or an expired credential in tests). */
export async function clientPairFrom(
  caCertPem: string,
  caKeyPem: string,
  subject: string,
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<Pair> {
  const { importPrivateKeyPem } = await import('../../src/pki/keys.ts');
  const cert = new x509.X509Certificate(caCertPem);
  const privateKey = await importPrivateKeyPem(caKeyPem, 'ecdsa-p256');
  return leaf(
    { cert, keys: { privateKey, publicKey: await cert.publicKey.export() } },
    { subject, ...validity },
  );
}

/** A CA of its own (slapd's, or a man in the middle's) and a serving certificate it signed. */
export async function caWithServer(
  caName: string,
  server: { subject: string; dns: string[]; ips: string[] },
): Promise<{ ca: Pair; server: Pair }> {
  const ca = await caPair(caName);
  const pair = await leaf(ca, { subject: server.subject, server: { dns: server.dns, ips: server.ips } });
  return { ca: ca.pair, server: pair };
}
