// Issue 13, point 6: root reads for the tool. A tool (a process running under its own uid and gid)
// plants links and foreign files where kubeusers reads or replaces its files, then waits for kubeusers
// to renew its certificate or to lock it. Nothing of anyone else's may reach a file the tool can read,
// the foreign file stays as it was, the account is reported with a reason code, and the tool still gets
// its certificate files wherever that is safe.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { certInfo, certMatchesKey } from '../../../src/pki/cert.ts';
import { scenario, type Scenario } from '../support.ts';

let s: Scenario;
const MARKER = `kubeusers-attack-marker-${process.pid}`;
/** A kubeconfig-shaped file with a token-like marker (not a real token), so a merge would accept it. */
const markerConfig = (who: string): string =>
  `apiVersion: v1\nkind: Config\nusers:\n- name: ${who}\n  user: { token: ${MARKER}-${who} }\n`;

const OTHER = { name: 'other', uid: 57_100 };
const ADMIN = { user: 'hadmin', uid: 57_190 };

interface Run {
  code: number | null;
  stdout: string;
}

/** Runs `script` as the attacker: its own uid and gid, no groups, from `cwd` (the homes root, so the
 * private test directories above it need not be traversable). */
function asAccount(uid: number, cwd: string, script: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], {
      uid,
      gid: uid,
      cwd,
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

interface Fingerprint {
  ino: number;
  uid: number;
  mode: number;
  sha: string;
}
const fingerprint = (path: string): Fingerprint => {
  const st = statSync(path);
  return { ino: st.ino, uid: st.uid, mode: st.mode, sha: sha(path) };
};

/** What a planted entry is, without following it. */
const entryOf = (path: string): { ino: number; link?: string } => {
  const st = lstatSync(path);
  return { ino: st.ino, ...(st.isSymbolicLink() ? { link: readlinkSync(path) } : {}) };
};

interface Attacker {
  kind: 'tool' | 'admin';
  name: string;
  uid: number;
  /** The homes root the account's home is in; the attacker's processes start there. */
  root: string;
  home: string;
}

interface Planted {
  /** The entry in the attacker's home that kubeusers must leave alone. */
  entry: string;
  /** Someone else's file that must not change and whose contents must not reach the attacker. */
  foreign: string;
}

interface Case {
  name: string;
  kind: 'tool' | 'admin';
  account: string;
  uid: number;
  plant: (a: Attacker) => Promise<Planted>;
  /** What makes kubeusers touch the home: a renewal, or locking the account. */
  trigger: 'renewal' | 'lock';
  /** The reason code the account is reported with. */
  reason: string;
  /** Whether the account's own certificate files are (re)written by the trigger. */
  delivered: boolean;
}

/** Root's own 0600 file with the marker (made by the test as root: it stands for any root secret). */
let rootSecret: string;
/** A 0600 file of the neighbouring tool `other`, with the marker (made by root, chowned: setup). */
let otherSecret: string;

/** A directory both the attacker and `other` may write to, like /tmp without its sticky bit, holding
 * a 0600 file of `other` (setup, as root). The attacker moves it into its own home by itself. */
function dropFileOfOther(a: Attacker, name: string): string {
  const drop = join(a.root, `drop-${name}`);
  mkdirSync(drop, { mode: 0o777 });
  chmodSync(drop, 0o777);
  const file = join(drop, 'config');
  writeFileSync(file, markerConfig(`dropped-${name}`), { mode: 0o600 });
  chownSync(file, OTHER.uid, OTHER.uid);
  return file;
}

const rel = (a: Attacker, path: string): string => relative(a.root, path);

const cases: Case[] = [
  {
    name: '~/.kube/config is a symlink to a 0600 file of root',
    kind: 'tool',
    account: 'sym-config',
    uid: 57_101,
    plant: async (a) => {
      const entry = join(a.home, '.kube', 'config');
      await asAccount(a.uid, a.root, `rm -f ${rel(a, entry)} && ln -s ${rootSecret} ${rel(a, entry)}`);
      return { entry, foreign: rootSecret };
    },
    trigger: 'renewal',
    reason: 'symlink',
    delivered: true,
  },
  {
    name: "~/.kube/config is a hard link to another tool's 0600 file",
    kind: 'tool',
    account: 'hard-config',
    uid: 57_102,
    plant: async (a) => {
      const entry = join(a.home, '.kube', 'config');
      await asAccount(a.uid, a.root, `rm -f ${rel(a, entry)}`);
      // Setup as root: fs.protected_hardlinks=1 on this host stops the tool from linking a file it
      // cannot write; where it is 0 (or on a file server that does not enforce it) the tool can.
      linkSync(otherSecret, entry);
      return { entry, foreign: otherSecret };
    },
    trigger: 'renewal',
    reason: 'foreign-owner',
    delivered: true,
  },
  {
    name: '~/.kube/config is a 0600 file of another uid, moved in by the tool',
    kind: 'tool',
    account: 'moved-config',
    uid: 57_103,
    plant: async (a) => {
      const entry = join(a.home, '.kube', 'config');
      const foreign = dropFileOfOther(a, 'moved-config');
      // The tool itself renames the other uid's file into its home (rename needs no right on the file).
      const r = await asAccount(a.uid, a.root, `mv -f ${rel(a, foreign)} ${rel(a, entry)} && echo moved`);
      expect(r.stdout).toBe('moved\n');
      return { entry, foreign: entry };
    },
    trigger: 'renewal',
    reason: 'foreign-owner',
    delivered: true,
  },
  {
    name: "~/.toolskube/client.key is a hard link to another tool's key",
    kind: 'tool',
    account: 'hard-key',
    uid: 57_104,
    plant: async (a) => {
      const entry = join(a.home, '.toolskube', 'client.key');
      const foreign = join(s.homesRoot, OTHER.name, '.toolskube', 'client.key');
      await asAccount(a.uid, a.root, `rm -f ${rel(a, entry)}`);
      linkSync(foreign, entry); // setup as root: see fs.protected_hardlinks above
      return { entry, foreign };
    },
    trigger: 'renewal',
    reason: 'foreign-owner',
    delivered: false,
  },
  {
    name: "~/k8s.disabled is a hard link to another tool's 0600 file when the tool is locked",
    kind: 'tool',
    account: 'hard-flag',
    uid: 57_105,
    plant: (a) => {
      const entry = join(a.home, 'k8s.disabled');
      linkSync(otherSecret, entry); // setup as root: see fs.protected_hardlinks above
      return Promise.resolve({ entry, foreign: otherSecret });
    },
    trigger: 'lock',
    reason: 'foreign-owner',
    delivered: false,
  },
  {
    name: "an admin's ~/.kube/config is a 0600 file of another uid, moved in by the admin",
    kind: 'admin',
    account: ADMIN.user,
    uid: ADMIN.uid,
    plant: async (a) => {
      const entry = join(a.home, '.kube', 'config');
      const foreign = dropFileOfOther(a, 'admin-config');
      const r = await asAccount(a.uid, a.root, `mv -f ${rel(a, foreign)} ${rel(a, entry)} && echo moved`);
      expect(r.stdout).toBe('moved\n');
      return { entry, foreign: entry };
    },
    trigger: 'renewal',
    reason: 'foreign-owner',
    delivered: true,
  },
];

const attackerOf = (c: Case): Attacker => {
  const root = c.kind === 'tool' ? s.homesRoot : s.adminHomesRoot;
  return { kind: c.kind, name: c.account, uid: c.uid, root, home: join(root, c.account) };
};

const credsOf = (a: Attacker): { crt: string; key: string } => {
  const dir = join(a.home, a.kind === 'tool' ? '.toolskube' : '.admkube');
  return { crt: join(dir, 'client.crt'), key: join(dir, 'client.key') };
};

beforeAll(async () => {
  s = await scenario('ahm');
  rootSecret = join(s.env.dir, `root-secret-${process.pid}`);
  writeFileSync(rootSecret, markerConfig('root'), { mode: 0o600 });
  await s.dir.addTool({ name: OTHER.name, uidNumber: OTHER.uid });
  for (const c of cases.filter((c) => c.kind === 'tool'))
    await s.dir.addTool({ name: c.account, uidNumber: c.uid });
  await s.dir.addUser({ user: ADMIN.user, uidNumber: ADMIN.uid });
  await s.dir.addToAdminGroup(ADMIN.user);
  const first = await s.sync();
  expect(first.failures).toEqual([]);
  // The neighbour's own 0600 file: made by root and given to `other` (setup).
  otherSecret = join(s.homesRoot, OTHER.name, 'secret.yaml');
  writeFileSync(otherSecret, markerConfig(OTHER.name), { mode: 0o600 });
  chownSync(otherSecret, OTHER.uid, OTHER.uid);
});

describe('a tool or admin plants links and foreign files in its own home', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const a = attackerOf(c);
    const creds = credsOf(a);
    const serialBefore = (await certInfo(readFileSync(creds.crt, 'utf8'))).serial;
    const planted = await c.plant(a);
    const entryBefore = entryOf(planted.entry);
    const foreignBefore = fingerprint(planted.foreign);
    const key = `${c.kind}/${c.account}`;
    const logsBefore = s.logs.length;

    if (c.trigger === 'lock') await s.dir.lock(s.dir.toolDn(c.account));
    // The renewal the attacker waits for, brought forward.
    const result = await s.sync({
      only: new Set([key]),
      ...(c.trigger === 'renewal' ? { force: new Set([key]) } : {}),
    });

    // Nothing of anyone else's reaches a file the attacker can read in its home.
    const leaked = await asAccount(a.uid, a.root, `grep -rlF -- ${MARKER} ${a.name} 2>/dev/null; true`);
    expect(leaked.stdout).toBe('');
    const readable = await asAccount(
      a.uid,
      a.root,
      `find ${a.name} -type f -readable -exec sha256sum {} + 2>/dev/null; true`,
    );
    expect(readable.stdout).not.toContain(foreignBefore.sha);
    // The foreign file and the planted entry are left as they were.
    expect(fingerprint(planted.foreign)).toEqual(foreignBefore);
    expect(entryOf(planted.entry)).toEqual(entryBefore);
    // The account is reported, with the reason code.
    const reported = s.logs
      .slice(logsBefore)
      .map((l) => JSON.parse(l) as { account?: string; action?: string; reason?: string })
      .filter((l) => l.account === c.account && l.action === 'home-left-alone')
      .map((l) => l.reason);
    expect(reported).toContain(c.reason);
    if (c.trigger === 'renewal') expect(result.failures.map((f) => f.account)).toEqual([key]);
    // Its own certificate files are delivered where that is safe.
    if (c.delivered) {
      const crt = readFileSync(creds.crt, 'utf8');
      expect((await certInfo(crt)).serial).not.toBe(serialBefore);
      expect(await certMatchesKey(crt, readFileSync(creds.key, 'utf8'))).toBe(true);
      expect([statSync(creds.key).uid, statSync(creds.key).mode & 0o777]).toEqual([a.uid, 0o600]);
      expect(statSync(creds.key).nlink).toBe(1);
    }
  });
});
