// What maintain-kubeusers leaves behind, in its exact formats, made without any of kubeusers' own
// writers: keys by openssl (maintain-kubeusers writes RSA-4096 as PKCS#1, "BEGIN RSA PRIVATE KEY"),
// certificates signed by openssl with the cluster CA (CN=<tool>, O=toolforge, the extensions of the
// kube-controller-manager signer), the kubeconfig as PyYAML's safe_dump(default_flow_style=False)
// writes it, the ConfigMap with `status` and a naive-ISO `expires`, and the files' modes (0400).
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { x509 } from '../../../src/pki/crypto.ts';
import { adminKubeConfig, testEnv } from '../../env/index.ts';

const run = promisify(execFile);
const DAY_MS = 86_400_000;

/** How a key in a home may be written: maintain-kubeusers' own, and what an operator may have put there. */
export type LegacyKeyFormat = 'rsa-4096-pkcs1' | 'rsa-2048-pkcs8' | 'ecdsa-p256-sec1' | 'ecdsa-p256-pkcs8';

const KEYGEN: Record<LegacyKeyFormat, { args: (out: string) => string[]; header: string }> = {
  // What `cryptography`'s TraditionalOpenSSL serialisation of rsa.generate_private_key(65537, 4096) gives.
  'rsa-4096-pkcs1': {
    args: (out) => ['genrsa', '-traditional', '-out', out, '4096'],
    header: 'BEGIN RSA PRIVATE KEY',
  },
  'rsa-2048-pkcs8': {
    args: (out) => ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', out],
    header: 'BEGIN PRIVATE KEY',
  },
  // With its EC PARAMETERS block first, as `openssl ecparam -genkey` writes it by default.
  'ecdsa-p256-sec1': {
    args: (out) => ['ecparam', '-name', 'prime256v1', '-genkey', '-out', out],
    header: 'BEGIN EC PRIVATE KEY',
  },
  'ecdsa-p256-pkcs8': {
    args: (out) => ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out],
    header: 'BEGIN PRIVATE KEY',
  },
};

const CA_CONFIG = `[ca]
default_ca = legacy
[legacy]
database = index.txt
new_certs_dir = .
serial = serial
unique_subject = no
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = client
[any]
organizationName = supplied
commonName = supplied
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

export interface LegacyKey {
  format: LegacyKeyFormat;
  pem: string;
  /** A request signed by this key; `openssl ca -subj` gives each certificate its own subject. */
  csrFile: string;
}

/** openssl's GeneralizedTime form, YYYYMMDDHHMMSSZ. */
const asn1Time = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/** The cluster CA as maintain-kubeusers' certificates were signed by it (through the CSR API). */
export class LegacyCa {
  readonly #dir: string;
  readonly #workers: string[] = [];
  #next = 0;

  constructor(concurrency = 4) {
    const env = testEnv();
    this.#dir = mkdtempSync(join(env.dir, 'legacy-ca-'));
    for (let i = 0; i < concurrency; i++) {
      // One openssl database per worker, so that signings in parallel never share index.txt.
      const w = join(this.#dir, `w${i}`);
      mkdirSync(w);
      writeFileSync(join(w, 'index.txt'), '');
      writeFileSync(join(w, 'serial'), '01\n');
      writeFileSync(join(w, 'ca.cnf'), CA_CONFIG);
      this.#workers.push(w);
    }
  }

  get concurrency(): number {
    return this.#workers.length;
  }

  async key(format: LegacyKeyFormat): Promise<LegacyKey> {
    const id = `key-${this.#next++}`;
    const keyFile = join(this.#dir, `${id}.pem`);
    const csrFile = join(this.#dir, `${id}.csr`);
    await run('openssl', KEYGEN[format].args(keyFile));
    chmodSync(keyFile, 0o600);
    await run('openssl', ['req', '-new', '-key', keyFile, '-subj', '/O=toolforge/CN=pool', '-out', csrFile]);
    const pem = readFileSync(keyFile, 'utf8');
    if (!pem.includes(KEYGEN[format].header)) throw new Error(`openssl wrote no ${KEYGEN[format].header}`);
    return { format, pem, csrFile };
  }

  /** A certificate for `tool` (subject O=toolforge, CN=<tool>) over `key`, valid from `notBefore` to `notAfter`. */
  async sign(key: LegacyKey, tool: string, notBefore: Date, notAfter: Date, worker = 0): Promise<string> {
    const env = testEnv();
    const cwd = this.#workers[worker % this.#workers.length]!;
    const out = join(cwd, `${tool}.crt`);
    // -rand_serial: a random serial, like the signer's.
    await run(
      'openssl',
      [
        'ca',
        '-batch',
        '-notext',
        '-config',
        'ca.cnf',
        '-cert',
        env.kube.caFile,
        '-keyfile',
        env.kube.caKeyFile,
        '-in',
        key.csrFile,
        '-subj',
        `/O=toolforge/CN=${tool}`,
        '-preserveDN',
        '-rand_serial',
        '-startdate',
        asn1Time(notBefore),
        '-enddate',
        asn1Time(notAfter),
        '-out',
        out,
      ],
      { cwd },
    );
    return readFileSync(out, 'utf8');
  }
  /**
   * Certificates for many tools at once, all valid from `notBefore` to `notAfter`: one `openssl ca
   * -infiles` for the lot (so a thousand tools take seconds, not a thousand openssl processes). Each
   * tool's request is signed here with its RSA key (only the request: the certificate is openssl's).
   */
  async signMany(
    requests: { tool: string; key: LegacyKey }[],
    notBefore: Date,
    notAfter: Date,
    worker = 0,
  ): Promise<Map<string, string>> {
    const env = testEnv();
    const cwd = this.#workers[worker % this.#workers.length]!;
    const batch = mkdtempSync(join(cwd, 'batch-'));
    const files: string[] = [];
    for (const { tool, key } of requests) {
      const file = join(batch, `${tool}.csr`);
      writeFileSync(file, await csrFor(tool, key));
      files.push(file);
    }
    // Each certificate lands in `-outdir` as <serial>.pem (openssl 3.0's `-out` keeps only the last).
    const outDir = join(batch, 'out');
    mkdirSync(outDir);
    await run(
      'openssl',
      [
        'ca',
        '-batch',
        '-notext',
        '-config',
        'ca.cnf',
        '-cert',
        env.kube.caFile,
        '-keyfile',
        env.kube.caKeyFile,
        '-preserveDN',
        '-rand_serial',
        '-startdate',
        asn1Time(notBefore),
        '-enddate',
        asn1Time(notAfter),
        '-outdir',
        outDir,
        '-out',
        '/dev/null',
        '-infiles',
        ...files,
      ],
      { cwd, maxBuffer: 64 * 1024 * 1024 },
    );
    const certs = new Map<string, string>();
    for (const file of readdirSync(outDir)) {
      const pem = readFileSync(join(outDir, file), 'utf8');
      const cn = /^CN=(.*)$/m.exec(new X509Certificate(pem).subject)?.[1];
      if (cn) certs.set(cn, pem);
    }
    return certs;
  }
}

const RSA_SHA256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

/** A PKCS#10 request for O=toolforge, CN=<tool>, signed by `key` (an RSA key read from openssl's PEM). */
async function csrFor(tool: string, key: LegacyKey): Promise<string> {
  const priv = createPrivateKey(key.pem);
  const subtle = globalThis.crypto.subtle;
  const keys = {
    privateKey: await subtle.importKey(
      'pkcs8',
      priv.export({ type: 'pkcs8', format: 'der' }),
      RSA_SHA256,
      false,
      ['sign'],
    ),
    publicKey: await subtle.importKey(
      'spki',
      createPublicKey(priv).export({ type: 'spki', format: 'der' }),
      RSA_SHA256,
      true,
      ['verify'],
    ),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `O=toolforge, CN=${tool}`,
    keys,
    signingAlgorithm: RSA_SHA256,
  });
  return csr.toString('pem');
}

/** Python's datetime.isoformat() of a naive UTC datetime, as maintain-kubeusers stores `expires`. */
export const pythonIso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, '');

/**
 * `~/.kube/config` as maintain-kubeusers writes a new one: yaml.safe_dump(config, default_flow_style=False),
 * so keys sorted and block style; cluster and context `toolforge`, user `tf-<tool>`.
 */
export function legacyKubeconfig(o: {
  tool: string;
  home: string;
  namespace: string;
  server: string;
  caData: string;
}): string {
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${o.caData}`,
    `    server: ${o.server}`,
    '  name: toolforge',
    'contexts:',
    '- context:',
    '    cluster: toolforge',
    `    namespace: ${o.namespace}`,
    `    user: tf-${o.tool}`,
    '  name: toolforge',
    'current-context: toolforge',
    'kind: Config',
    'users:',
    `- name: tf-${o.tool}`,
    '  user:',
    `    client-certificate: ${o.home}/.toolskube/client.crt`,
    `    client-key: ${o.home}/.toolskube/client.key`,
    '',
  ].join('\n');
}

/** The two names kubeusers looks for: `maintain-kubeusers` (what the source writes) and `maintain-kubeusers-<tool>`. */
export type ConfigMapStyle = 'plain' | 'per-tool';

export interface LegacyTool {
  tool: string;
  uid: number;
  /** The tool's namespace under the scenario's prefix. */
  namespace: string;
  home: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
  configMap: ConfigMapStyle;
}

/** The namespace, its ConfigMap and the user's RoleBinding, as maintain-kubeusers created them. */
export async function seedLegacyCluster(t: LegacyTool, issuedAt: Date): Promise<void> {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({
    body: { metadata: { name: t.namespace, labels: { name: t.namespace, tenancy: 'tool' } } },
  });
  await core.createNamespacedConfigMap({
    namespace: t.namespace,
    body: {
      metadata: { name: t.configMap === 'plain' ? 'maintain-kubeusers' : `maintain-kubeusers-${t.tool}` },
      data: { status: `user created: ${pythonIso(issuedAt)}.000000`, expires: pythonIso(t.notAfter) },
    },
  });
  await kc.makeApiClient(k8s.RbacAuthorizationV1Api).createNamespacedRoleBinding({
    namespace: t.namespace,
    body: {
      metadata: { name: `${t.tool}-tool-binding` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubeusers-tool' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: t.tool }],
    },
  });
}

/** The home: 02775 and `logs/`, `.toolskube/` and `.kube/` (0755 under umask 022), files 0400, all the tool's. */
export function seedLegacyHome(t: LegacyTool): void {
  const env = testEnv();
  mkdirSync(t.home, { recursive: true });
  chmodSync(t.home, 0o2775);
  chownSync(t.home, t.uid, t.uid);
  for (const d of ['logs', '.toolskube', '.kube']) {
    const p = join(t.home, d);
    mkdirSync(p, { mode: 0o755 });
    chownSync(p, t.uid, t.uid);
  }
  const file = (path: string, text: string, mode: number) => {
    writeFileSync(path, text);
    chownSync(path, t.uid, t.uid);
    chmodSync(path, mode);
  };
  file(join(t.home, '.toolskube', 'client.crt'), t.certPem, 0o400);
  file(join(t.home, '.toolskube', 'client.key'), t.keyPem, 0o400);
  const caData = Buffer.from(readFileSync(env.kube.caFile)).toString('base64');
  file(
    join(t.home, '.kube', 'config'),
    legacyKubeconfig({ tool: t.tool, home: t.home, namespace: t.namespace, server: env.kube.server, caData }),
    0o600,
  );
}

export const daysFrom = (now: Date, days: number): Date => new Date(now.getTime() + days * DAY_MS);
