// Secrets and certificates rotate under a running daemon, with no restart: the LDAP bind password
// (changed in slapd and in its file), the admin API's serving certificate and key, and the client CA
// bundle. Files change the three ways operators change them: a Kubernetes secret volume (a new
// timestamped directory, `..data` swapped to it by rename), a new file renamed over the old one, and
// a rewrite in place. The seconds until the next good sync or handshake are measured and printed
// (for the notes); the test asserts recovery, never how fast it was.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Attribute, Change, Client } from 'ldapts';
import { makeClusterPki, servingPairFrom, type Pair } from '../../env/pki.ts';
import { kubectl, testEnv } from '../../env/index.ts';
import { freePort } from '../../env/proc.ts';
import { teeToLog } from '../../env/logs.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';
import { LdapDirectory } from '../../../src/directory/ldap.ts';
import { directoryOptions } from '../../../src/main.ts';

const repo = join(import.meta.dirname, '..', '..', '..');

// ---- how files change -------------------------------------------------------------------------

type Files = Record<string, string>;

/** A directory laid out as the kubelet lays out a secret volume: `name -> ..data/name`, `..data -> ..<version>`. */
function secretVolume(dir: string, files: Files): void {
  mkdirSync(dir, { recursive: true });
  const version = `..${process.hrtime.bigint()}`;
  mkdirSync(join(dir, version));
  for (const [name, text] of Object.entries(files))
    writeFileSync(join(dir, version, name), text, { mode: 0o600 });
  symlinkSync(version, join(dir, '..data'));
  for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(dir, name));
}

/** The kubelet's atomic update: a new version directory, `..data_tmp` pointing at it, renamed over `..data`. */
function swapSecretVolume(dir: string, files: Files): void {
  const old = readlinkSync(join(dir, '..data'));
  const version = `..${process.hrtime.bigint()}`;
  mkdirSync(join(dir, version));
  for (const [name, text] of Object.entries(files))
    writeFileSync(join(dir, version, name), text, { mode: 0o600 });
  symlinkSync(version, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  rmSync(join(dir, old), { recursive: true, force: true });
}

/** A new file written beside the old one and renamed over it (what most tools and editors do). */
function renameOver(dir: string, files: Files): void {
  for (const [name, text] of Object.entries(files)) {
    const tmp = join(dir, `.${name}.new`);
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, join(dir, name));
  }
}

/** The same file truncated and rewritten (`echo new > file`), one file after the other. */
function rewriteInPlace(dir: string, files: Files): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

type FileChange = (dir: string, files: Files) => void;

// ---- the daemon ---------------------------------------------------------------------------------

interface Line {
  time: number;
  level: number;
  msg: string;
  action?: string;
  directoryError?: string;
  api?: { port: number };
}

interface Daemon {
  child: ChildProcess;
  lines: Line[];
  out: () => string;
}

function startDaemon(configFile: string): Daemon {
  const child = spawn(
    process.execPath,
    [join(repo, 'src', 'cli', 'index.ts'), '--config', configFile, 'run'],
    {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  teeToLog(child, testEnv().dir, 'rotation-daemon');
  const lines: Line[] = [];
  let out = '';
  let partial = '';
  const take = (c: Buffer): void => {
    out += c.toString();
    partial += c.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Line);
      } catch {
        // not a log line
      }
    }
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  return { child, lines, out: () => out };
}

async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  ms: number,
): Promise<T | undefined> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

const goodSync = (l: Line): boolean => l.msg === 'sync finished' && l.level === 30 && !l.directoryError;
/** A sync that could not read LDAP, or the watch saying it cannot. */
const sawFailure = (l: Line): boolean =>
  (l.msg === 'sync finished' && l.directoryError !== undefined) ||
  (l.action === 'directory' && l.level === 40);
/** The default: a rotation must not wait for the next periodic sync. */
const INTERVAL = 60;
const seconds = (from: number, to: number): string => ((to - from) / 1000).toFixed(2);
const figures: string[] = [];

function firstAfter(d: Daemon, t: number, p: (l: Line) => boolean): Line | undefined {
  return d.lines.find((l) => l.time >= t && p(l));
}

// ---- the setup ----------------------------------------------------------------------------------

let s: Scenario;
let d: Daemon;
let dirs: { password: string; serving: string; clientCa: string };
let apiPort: number;
const env = testEnv();
const clusterCa = readFileSync(env.kube.caFile, 'utf8');
/** A client certificate of the cluster's CA (the admin's, system:masters), and one of a CA the API does not yet trust. */
let clusterClient: Pair;
let otherCa: Pair;
let otherClient: Pair;

function adminPair(): Pair {
  const kc = JSON.parse(readFileSync(env.kube.adminKubeconfig, 'utf8')) as {
    users: { user: Record<string, string> }[];
  };
  const u = kc.users[0]!.user;
  const b = (k: string): string => Buffer.from(u[k]!, 'base64').toString('utf8');
  return { cert: b('client-certificate-data'), key: b('client-key-data') };
}

async function servingPair(): Promise<Pair> {
  return servingPairFrom(clusterCa, readFileSync(env.kube.caKeyFile, 'utf8'), ['127.0.0.1'], ['localhost']);
}

beforeAll(async () => {
  const root = mkdtempSync(join(env.dir, 'rotation-'));
  dirs = { password: join(root, 'ldap'), serving: join(root, 'serving'), clientCa: join(root, 'client-ca') };
  // The real password is not known before the scenario's own slapd starts: a placeholder until then.
  secretVolume(dirs.password, { password: 'placeholder' });
  const first = await servingPair();
  secretVolume(dirs.serving, { 'tls.crt': first.cert, 'tls.key': first.key });
  secretVolume(dirs.clientCa, { 'ca.crt': clusterCa });
  s = await scenario(
    'rot',
    {
      ldap: { bindPassword: { file: join(dirs.password, 'password') } } as never,
      sync: { intervalSeconds: INTERVAL, watchSeconds: 1 },
      ops: { address: '127.0.0.1', port: 0 },
      api: {
        enabled: true,
        address: '127.0.0.1',
        port: await freePort(),
        certFile: join(dirs.serving, 'tls.crt'),
        keyFile: join(dirs.serving, 'tls.key'),
        clientCaFile: join(dirs.clientCa, 'ca.crt'),
        requestsPerMinute: 100_000,
      },
      leaderElection: { enabled: false },
    },
    { ownLdap: { tools: [{ name: 'alpha', uidNumber: 63_001 }] } },
  );
  swapSecretVolume(dirs.password, { password: readFileSync(s.ldap!.info.servicePasswordFile, 'utf8') });
  clusterClient = adminPair();
  const other = await makeClusterPki();
  otherCa = other.ca;
  otherClient = other.admin;
  d = startDaemon(s.configFile);
  const running = await waitFor(() => d.lines.find((l) => l.msg === 'kubeusers running'), 60_000);
  if (!running) throw new Error(`the daemon did not start:\n${d.out().slice(-3000)}`);
  apiPort = running.api!.port;
  const home = join(s.homesRoot, 'alpha');
  const ready = await waitFor(
    async () => (await kubectl(kubeconfigOf(home), ['get', 'configmaps'])).code === 0 || undefined,
    60_000,
  );
  if (!ready) throw new Error(`alpha never got credentials:\n${d.out().slice(-3000)}`);
});

afterAll(async () => {
  if (d) {
    const exited = new Promise((r) => d.child.once('exit', r));
    d.child.kill('SIGTERM');
    await exited;
  }
  await s?.ldap?.stop();
  // What an operator sees (setting and file names, never contents), for the notes.
  const said = d?.lines.filter((l) => l.action === 'reload' || l.action === 'directory').slice(0, 6) ?? [];
  console.log(
    `rotation figures (seconds):\n${figures.join('\n')}\n${said.map((l) => JSON.stringify(l)).join('\n')}`,
  );
});

// ---- the LDAP bind password -------------------------------------------------------------------

async function setServicePassword(password: string): Promise<void> {
  const info = s.ldap!.info;
  const c = new Client({ url: info.url, timeout: 10_000 });
  try {
    await c.bind(info.rootDn, info.rootPassword);
    await c.modify(info.serviceDn, [
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'userPassword', values: [password] }),
      }),
    ]);
  } finally {
    await c.unbind().catch(() => undefined);
  }
}

// The secret-volume cases first: the rename-over case replaces the `password -> ..data/password`
// link with a plain file, as an operator's tool would.
const passwordCases: { name: string; order: 'ldap-first' | 'file-first'; change: FileChange }[] = [
  {
    name: 'Kubernetes secret volume (..data swapped), LDAP first',
    order: 'ldap-first',
    change: swapSecretVolume,
  },
  {
    name: 'Kubernetes secret volume (..data swapped), file first',
    order: 'file-first',
    change: swapSecretVolume,
  },
  { name: 'file rewritten in place, LDAP first', order: 'ldap-first', change: rewriteInPlace },
  { name: 'file renamed over the old one, LDAP first', order: 'ldap-first', change: renameOver },
];

describe('the LDAP bind password rotates without a restart', () => {
  it.each(passwordCases)('$name', async ({ name, order, change }) => {
    const password = randomBytes(18).toString('base64url');
    // The clock of the measure starts at the step that completes the rotation.
    let from: number;
    let fileAt: number;
    if (order === 'ldap-first') {
      const atLdap = Date.now();
      await setServicePassword(password);
      // The daemon sees the old password fail before the file changes: this is recovery, not luck.
      expect(await waitFor(() => firstAfter(d, atLdap, sawFailure), 70_000)).toBeDefined();
      from = fileAt = Date.now();
      change(dirs.password, { password });
    } else {
      fileAt = Date.now();
      change(dirs.password, { password });
      // The new password is in use (and refused) before LDAP has it.
      expect(await waitFor(() => firstAfter(d, fileAt, sawFailure), 70_000)).toBeDefined();
      from = Date.now();
      await setServicePassword(password);
    }
    const good = await waitFor(() => firstAfter(d, from, goodSync), 90_000);
    expect(good).toBeDefined();
    const reload = firstAfter(d, fileAt, (l) => l.action === 'reload');
    expect(reload).toBeDefined();
    figures.push(
      `password, ${name}: reload logged ${reload ? seconds(fileAt, reload.time) : '-'} s after the file changed, ` +
        `next good sync ${good ? seconds(from, good.time) : '-'} s after the ${order === 'ldap-first' ? 'file' : 'LDAP'} change ` +
        `(sync.intervalSeconds ${INTERVAL}, watchSeconds 1)`,
    );
    expect(d.out()).not.toContain(password);
  });
});

// ---- the serving certificate and key ------------------------------------------------------------

function servedFingerprint(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port: apiPort, ca: clusterCa, servername: 'localhost' },
      () => {
        const fp = socket.getPeerCertificate().fingerprint256;
        socket.end();
        resolve(fp);
      },
    );
    socket.on('error', reject);
  });
}

const fingerprintOf = (pem: string): string => new X509Certificate(pem).fingerprint256;

const servingCases: { name: string; change: FileChange }[] = [
  { name: 'Kubernetes secret volume (..data swapped)', change: swapSecretVolume },
  { name: 'certificate then key renamed over the old ones', change: renameOver },
  { name: 'certificate then key rewritten in place', change: rewriteInPlace },
];

describe("the API's serving certificate and key rotate without a restart", () => {
  it.each(servingCases)('$name', async ({ name, change }) => {
    const next = await servingPair();
    const want = fingerprintOf(next.cert);
    expect(await servedFingerprint()).not.toBe(want);
    const changed = Date.now();
    change(dirs.serving, { 'tls.crt': next.cert, 'tls.key': next.key });
    const served = await waitFor(
      async () => ((await servedFingerprint().catch(() => '')) === want ? Date.now() : undefined),
      30_000,
    );
    expect(served).toBeDefined();
    figures.push(
      `serving certificate, ${name}: new certificate served after ${served ? seconds(changed, served) : '-'} s`,
    );
    expect(d.lines.some((l) => l.time >= changed && l.action === 'reload')).toBe(true);
  });
});

// ---- the client CA bundle ----------------------------------------------------------------------

function statusAs(who: Pair): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${apiPort}/api/v1/accounts`,
      { ca: clusterCa, cert: who.cert, key: who.key, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const clientCaCases: {
  name: string;
  bundle: () => string;
  change: FileChange;
  accepted: () => Pair;
  refused: () => Pair | undefined;
}[] = [
  {
    name: 'a second CA added (Kubernetes secret volume)',
    bundle: () => `${clusterCa}\n${otherCa.cert}`,
    change: swapSecretVolume,
    accepted: () => otherClient,
    refused: () => undefined,
  },
  {
    name: 'the old CA removed (file rewritten in place)',
    bundle: () => otherCa.cert,
    change: rewriteInPlace,
    accepted: () => otherClient,
    refused: () => clusterClient,
  },
  {
    name: 'back to the cluster CA alone (file renamed over the old one)',
    bundle: () => clusterCa,
    change: renameOver,
    accepted: () => clusterClient,
    refused: () => otherClient,
  },
];

describe('the client CA bundle rotates without a restart', () => {
  it.each(clientCaCases)('$name', async ({ name, bundle, change, accepted, refused }) => {
    const changed = Date.now();
    change(dirs.clientCa, { 'ca.crt': bundle() });
    const ok = await waitFor(async () => {
      const a = await statusAs(accepted());
      const r = refused();
      const no = r ? await statusAs(r) : 401;
      return a === 200 && no === 401 ? Date.now() : undefined;
    }, 30_000);
    expect(ok).toBeDefined();
    figures.push(`client CA, ${name}: in force after ${ok ? seconds(changed, ok) : '-'} s`);
    expect(d.lines.some((l) => l.time >= changed && l.action === 'reload')).toBe(true);
  });
});

// ---- a change the watch missed ------------------------------------------------------------------

describe('a bind refused for its credentials re-reads the password at once', () => {
  it('binds with the fresh password on the same connect, when no watch told it (NFS, a missed event)', async () => {
    const file = join(dirs.password, 'password');
    let current = 'a stale password';
    let refreshes = 0;
    const password = {
      current: () => current,
      refresh: () => {
        refreshes += 1;
        const fresh = readFileSync(file, 'utf8');
        const changed = fresh !== current;
        current = fresh;
        return Promise.resolve(changed);
      },
    };
    const ca = {
      current: () => readFileSync(s.settings.ldap.caFile!, 'utf8'),
      refresh: () => Promise.resolve(false),
    };
    const directory = new LdapDirectory(directoryOptions(s.settings, password, ca));
    const snapshot = await directory.read();
    expect(snapshot.accounts.map((a) => a.name)).toContain('alpha');
    expect(refreshes).toBe(1);
    // The right password from the start costs no re-read.
    await directory.read();
    expect(refreshes).toBe(1);
  });
});
