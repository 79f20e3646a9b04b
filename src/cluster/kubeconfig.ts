// Where the API server is and how kubeusers proves who it is, read from a kubeconfig file or from the
// pod's service account, without @kubernetes/client-node (ADR 26): its KubeConfig imports the whole
// generated model (~90 MB, ~0.9 s CPU). Auth forms kubeusers does not speak itself (exec,
// auth-provider, basic auth, a proxy) are handed to client-node, loaded only then.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { parse } from 'yaml';
import { systemClock, type Clock } from '../clock.ts';

export type KubeconfigReason =
  | 'missing-file'
  | 'invalid'
  | 'no-current-context'
  | 'no-cluster'
  | 'no-user'
  | 'not-in-cluster'
  | 'unsupported-key'
  | 'empty-token'
  | 'insecure-with-ca';

export class KubeconfigError extends Error {
  readonly reason: KubeconfigReason;
  constructor(message: string, reason: KubeconfigReason, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeconfigError';
    this.reason = reason;
  }
}

/** TLS for the connection pool: left unset, Node verifies the server against its CA and its name. */
export interface Tls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized?: boolean;
}

export interface KubeAccess {
  /** The API server's URL, no trailing slash. */
  readonly server: string;
  readonly tls: Tls;
  /** Headers for one request: the bearer token as it is now (a projected token rotates). */
  headers(): Promise<Record<string, string>>;
  /** Set for auth forms kubeusers leaves to client-node: it fills a request's options (agent included). */
  readonly viaClientNode?: (opts: RequestOptions) => Promise<void>;
}

export interface Files {
  read(path: string): Buffer;
  mtimeMs(path: string): number;
}

export const realFiles: Files = {
  read: (path) => readFileSync(path),
  mtimeMs: (path) => statSync(path).mtimeMs,
};

export type Loaded =
  { form: 'native'; access: KubeAccess; warnings: string[] } | { form: 'client-node'; why: string };

type Named<T> = { name?: string } & Record<string, T | undefined>;
type Fields = Record<string, unknown>;

function pick(list: unknown, key: string, name: string | undefined): Fields | undefined {
  if (!Array.isArray(list) || name === undefined) return undefined;
  const entry = (list as Named<Fields>[]).find((e) => e?.name === name);
  return entry?.[key];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function readAt(files: Files, base: string, path: string): Buffer {
  const full = isAbsolute(path) ? path : join(base, path);
  try {
    return files.read(full);
  } catch (err) {
    throw new KubeconfigError(`cannot read ${full} named by the kubeconfig`, 'missing-file', { cause: err });
  }
}

/** A `-data` field (base64) or its file form, relative to the kubeconfig's folder. */
function material(f: Fields, name: string, files: Files, base: string): Buffer | undefined {
  const data = str(f[`${name}-data`]);
  if (data) return Buffer.from(data, 'base64');
  const file = str(f[name]);
  return file ? readAt(files, base, file) : undefined;
}

/**
 * A token read again when its file changes, looked at no more than once a second. A look counts only
 * once it has read a token: an unreadable file is never sent as an empty bearer (a projected volume's
 * swap that fails one look keeps the token already held), and an empty one is an error.
 */
function tokenFile(path: string, files: Files, clock: Clock): () => Promise<Record<string, string>> {
  let token = '';
  let mtime = Number.NaN;
  let looked = Number.NEGATIVE_INFINITY;
  const look = (): void => {
    let m: number;
    let text: string | undefined;
    try {
      m = files.mtimeMs(path);
      if (m !== mtime) text = files.read(path).toString('utf8').trim();
    } catch (err) {
      if (token !== '') return;
      throw new KubeconfigError(`cannot read the token file ${path}`, 'missing-file', { cause: err });
    }
    if (text === '') throw new KubeconfigError(`the token file ${path} is empty`, 'empty-token');
    if (text !== undefined) token = text;
    mtime = m;
  };
  // A throw in look() becomes the promise's rejection.
  return () =>
    new Promise((resolve) => {
      const now = clock.now().getTime();
      if (now - looked >= 1000 || token === '') {
        look();
        looked = now;
      }
      resolve({ authorization: `Bearer ${token}` });
    });
}

/** User keys kubeusers applies itself; USER_CLIENT_NODE ones only client-node applies. */
const USER_NATIVE = new Set([
  'token',
  'tokenFile',
  'client-certificate',
  'client-certificate-data',
  'client-key',
  'client-key-data',
  'extensions',
]);
// `as` is sent by client-node as Impersonate-User; as-groups, as-uid and as-user-extra by neither.
const USER_CLIENT_NODE = ['exec', 'auth-provider', 'username', 'password', 'as'];
const CLUSTER_KEYS = new Set([
  'server',
  'certificate-authority',
  'certificate-authority-data',
  'tls-server-name',
  'insecure-skip-tls-verify',
  'proxy-url',
  'extensions',
  'disable-compression',
]);

/**
 * A key that neither kubeusers nor client-node applies (impersonation groups, a misspelt CA) is refused:
 * ignoring it would make kubeusers act as another identity or trust other servers than the operator
 * meant. The error names the key, never its value.
 */
function refuseUnknown(cluster: Fields, user: Fields): void {
  const key =
    Object.keys(user).find((k) => !USER_NATIVE.has(k) && !USER_CLIENT_NODE.includes(k)) ??
    Object.keys(cluster).find((k) => !CLUSTER_KEYS.has(k));
  if (key === undefined) return;
  const where = key in user ? 'user' : 'cluster';
  throw new KubeconfigError(
    `the kubeconfig's ${where} sets ${JSON.stringify(key.slice(0, 64))}, which kubeusers does not apply: refused rather than ignored`,
    'unsupported-key',
  );
}

function clusterOf(doc: Fields): { cluster: Fields; user: Fields } {
  const current = str(doc['current-context']);
  const context = pick(doc.contexts, 'context', current);
  if (!current || !context)
    throw new KubeconfigError('the kubeconfig has no current context', 'no-current-context');
  const cluster = pick(doc.clusters, 'cluster', str(context.cluster));
  if (!cluster || !str(cluster.server))
    throw new KubeconfigError(
      `the kubeconfig's context ${current} names no cluster with a server`,
      'no-cluster',
    );
  const user = pick(doc.users, 'user', str(context.user));
  if (str(context.user) && !user)
    throw new KubeconfigError(
      `the kubeconfig's context ${current} names a user it does not define`,
      'no-user',
    );
  return { cluster, user: user ?? {} };
}

function parseDoc(text: string, file: string): Fields {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new KubeconfigError(`${file} is not a kubeconfig`, 'invalid', { cause: err });
  }
  if (typeof doc !== 'object' || doc === null)
    throw new KubeconfigError(`${file} is not a kubeconfig`, 'invalid');
  return doc as Fields;
}

const INSECURE =
  'the kubeconfig sets insecure-skip-tls-verify: the API server is not authenticated, and whoever sits between can read and change every credential kubeusers issues';

/** TLS as the kubeconfig sets it; what it leaves unset stays Node's default (verify the server). */
function tlsOf(cluster: Fields, user: Fields, files: Files, base: string): { tls: Tls; warnings: string[] } {
  const tls: Tls = {};
  const ca = material(cluster, 'certificate-authority', files, base);
  const cert = material(user, 'client-certificate', files, base);
  const key = material(user, 'client-key', files, base);
  const servername = str(cluster['tls-server-name']);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (servername) tls.servername = servername;
  if (cluster['insecure-skip-tls-verify'] !== true) return { tls, warnings: [] };
  if (ca)
    throw new KubeconfigError(
      'the kubeconfig sets both a certificate authority and insecure-skip-tls-verify (kubectl refuses this too)',
      'insecure-with-ca',
    );
  return { tls: { ...tls, rejectUnauthorized: false }, warnings: [INSECURE] };
}

function headersOf(user: Fields, files: Files, base: string, clock: Clock): KubeAccess['headers'] {
  if (user.token !== undefined && !str(user.token))
    throw new KubeconfigError("the kubeconfig's user has an empty token", 'empty-token');
  const token = str(user.token);
  if (token) return () => Promise.resolve({ authorization: `Bearer ${token}` });
  const path = str(user.tokenFile);
  if (path) return tokenFile(isAbsolute(path) ? path : join(base, path), files, clock);
  return () => Promise.resolve({});
}

/** The current context of a kubeconfig's text; `file` places relative paths. */
export function fromKubeconfig(
  text: string,
  file: string,
  files: Files = realFiles,
  clock = systemClock,
): Loaded {
  const { cluster, user } = clusterOf(parseDoc(text, file));
  refuseUnknown(cluster, user);
  const other = USER_CLIENT_NODE.find((k) => user[k] !== undefined);
  if (other) return { form: 'client-node', why: `user.${other}` };
  if (str(cluster['proxy-url'])) return { form: 'client-node', why: 'cluster.proxy-url' };
  const base = dirname(file);
  const { tls, warnings } = tlsOf(cluster, user, files, base);
  const server = str(cluster.server)!.replace(/\/+$/, '');
  return { form: 'native', access: { server, tls, headers: headersOf(user, files, base, clock) }, warnings };
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's service account: the API server's service address, its CA, and the projected token. */
export function inCluster(
  env: Record<string, string | undefined>,
  files: Files = realFiles,
  clock: Clock = systemClock,
): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new KubeconfigError(
      'not in a cluster (no KUBERNETES_SERVICE_HOST/PORT) and no kubernetes.kubeconfig set',
      'not-in-cluster',
    );
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    tls: { ca: readAt(files, SERVICE_ACCOUNT, 'ca.crt') },
    headers: tokenFile(`${SERVICE_ACCOUNT}/token`, files, clock),
  };
}

/** client-node's KubeConfig for a file whose auth form only it speaks; imported only then. */
async function clientNodeAccess(file: string): Promise<KubeAccess> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new KubeconfigError(`the kubeconfig ${file} has no current cluster`, 'no-cluster');
  return {
    server: server.replace(/\/+$/, ''),
    tls: {},
    headers: () => Promise.resolve({}),
    viaClientNode: (opts) => kc.applyToHTTPSOptions(opts),
  };
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  files?: Files;
  warn?: (message: string) => void;
}

/** The kubeconfig file when one is set, else the pod's service account. */
export async function loadKubeAccess(file: string | undefined, opts: LoadOptions = {}): Promise<KubeAccess> {
  const files = opts.files ?? realFiles;
  if (file === undefined) return inCluster(opts.env ?? process.env, files);
  let text: string;
  try {
    text = files.read(file).toString('utf8');
  } catch (err) {
    throw new KubeconfigError(`cannot read the kubeconfig ${file}`, 'missing-file', { cause: err });
  }
  const loaded = fromKubeconfig(text, file, files);
  if (loaded.form === 'client-node') return clientNodeAccess(file);
  for (const w of loaded.warnings) opts.warn?.(w);
  return loaded.access;
}
