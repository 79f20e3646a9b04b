// SafeHomes against the real file system in a temp dir (the tests run as root): what is delivered,
// what is left alone and reported, and the races a tool can run between kubeusers' steps.
import {
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Account } from '../model/account.ts';
import { SafeHomes } from './homes.ts';
import { HomeError, type HomeProblem, type Hooks, type RacePoint } from './safe-fs.ts';

const UID = 42_001;
const OTHER = 42_002;
const MARKER = 'marker-not-a-real-token';
const CREDS = { certPem: 'CERT\n', keyPem: 'KEY\n' };
const KC = { clusterName: 'c', server: 'https://k:6443', caData: 'Q0E=', userName: 'c-t', contextName: 'c' };

const tmpRoot = mkdtempSync(join(tmpdir(), 'kubeusers-homes-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

let root: string;
let home: string;
let account: Account;
const p = (...parts: string[]): string => join(home, ...parts);

function homes(hooks?: Hooks): SafeHomes {
  const layout = { root, credentialsDir: '.toolskube', disabledFlag: 'k8s.disabled' };
  return new SafeHomes({ tool: layout, admin: layout }, hooks);
}

function own(path: string, uid = UID): string {
  chownSync(path, uid, uid);
  return path;
}

function fileOf(path: string, uid: number, text: string): string {
  writeFileSync(path, text, { mode: 0o600 });
  return own(path, uid);
}

/** A 0600 file of another uid outside the home, holding the marker. */
const foreign = (): string =>
  fileOf(join(root, 'secret'), OTHER, `users:\n- name: x\n  user: { token: ${MARKER} }\n`);

function raceAt(point: RacePoint, name: string, fn: () => void): Hooks {
  let done = false;
  return {
    at: (pt, n) => {
      if (pt !== point || n !== name || done) return;
      done = true;
      fn();
    },
  };
}

const snapshot = (path: string) => {
  const st = lstatSync(path);
  return { ino: st.ino, uid: st.uid, mode: st.mode, text: st.isFile() ? readFileSync(path, 'utf8') : '' };
};

beforeEach(() => {
  root = mkdtempSync(join(tmpRoot, 'root-'));
  home = join(root, 't');
  account = {
    kind: 'tool',
    name: 't',
    uid: 'p.t',
    uidNumber: UID,
    gidNumber: UID,
    home,
    locked: false,
    dn: 'cn=p.t',
  };
  mkdirSync(p('.kube'), { recursive: true, mode: 0o700 });
  own(home);
  own(p('.kube'));
});

describe('writeCredentials: a kubeconfig that may not be read or replaced', () => {
  const cases: [string, () => string, HomeProblem][] = [
    [
      'a 0600 file of another uid (moved in by the tool)',
      () => fileOf(p('.kube', 'config'), OTHER, MARKER),
      'foreign-owner',
    ],
    [
      "a hard link to another uid's 0600 file",
      () => {
        linkSync(foreign(), p('.kube', 'config'));
        return p('.kube', 'config');
      },
      'foreign-owner',
    ],
    [
      "a second name of the tool's own file",
      () => {
        linkSync(fileOf(join(root, 'mine'), UID, 'clusters: []\n'), p('.kube', 'config'));
        return p('.kube', 'config');
      },
      'hard-link',
    ],
    [
      "a symlink to another uid's file",
      () => {
        symlinkSync(foreign(), p('.kube', 'config'));
        return p('.kube', 'config');
      },
      'symlink',
    ],
    [
      'a .kube of another uid',
      () => {
        own(p('.kube'), OTHER);
        return fileOf(p('.kube', 'config'), OTHER, MARKER);
      },
      'foreign-owner',
    ],
    [
      'a .kube that is a symlink',
      () => {
        rmSync(p('.kube'), { recursive: true });
        mkdirSync(join(root, 'elsewhere'));
        symlinkSync(join(root, 'elsewhere'), p('.kube'));
        return p('.kube');
      },
      'symlink',
    ],
    ['a file that does not parse', () => fileOf(p('.kube', 'config'), UID, 'clusters: [\n'), 'unparsable'],
  ];

  it.each(cases)('%s: left alone and reported, credentials still delivered', async (_, plant, reason) => {
    const entry = plant();
    const before = snapshot(entry);
    const left = await homes().writeCredentials(account, CREDS, KC);
    expect(left.map((e) => e.reason)).toEqual([reason]);
    expect(snapshot(entry)).toEqual(before);
    expect(readFileSync(p('.toolskube', 'client.key'), 'utf8')).toBe(CREDS.keyPem);
    expect(readFileSync(p('.toolskube', 'client.crt'), 'utf8')).toBe(CREDS.certPem);
    expect(statSync(p('.toolskube', 'client.key')).uid).toBe(UID);
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it.each([
    ['absent', () => undefined],
    ["the tool's own", () => fileOf(p('.kube', 'config'), UID, 'clusters: []\n')],
    ["root's (as an older tool left it)", () => fileOf(p('.kube', 'config'), 0, 'clusters: []\n')],
  ])('%s: merged and replaced with a file of the tool', async (_, plant) => {
    plant();
    expect(await homes().writeCredentials(account, CREDS, KC)).toEqual([]);
    const st = statSync(p('.kube', 'config'));
    expect([st.uid, st.mode & 0o777, st.nlink]).toEqual([UID, 0o600, 1]);
    expect(readFileSync(p('.kube', 'config'), 'utf8')).toContain(
      'client-certificate: ../.toolskube/client.crt',
    );
  });
});

describe('writeCredentials: credential files that may not be replaced', () => {
  const cases: [string, string, () => string, HomeProblem][] = [
    [
      "client.key, a hard link to another uid's file",
      'client.key',
      () => {
        const f = foreign();
        linkSync(f, p('.toolskube', 'client.key'));
        return f;
      },
      'foreign-owner',
    ],
    [
      'client.crt, a 0600 file of another uid',
      'client.crt',
      () => fileOf(p('.toolskube', 'client.crt'), OTHER, MARKER),
      'foreign-owner',
    ],
    [
      'client.key, a symlink',
      'client.key',
      () => {
        const f = foreign();
        symlinkSync(f, p('.toolskube', 'client.key'));
        return f;
      },
      'symlink',
    ],
  ];

  it.each(cases)('%s: refused, and it stays as it was', async (_, name, plant, reason) => {
    mkdirSync(p('.toolskube'), { mode: 0o700 });
    own(p('.toolskube'));
    const target = plant();
    const before = snapshot(target);
    const entry = lstatSync(p('.toolskube', name)).ino;
    const err = await homes()
      .writeCredentials(account, CREDS, KC)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(HomeError);
    expect((err as HomeError).reason).toBe(reason);
    expect(snapshot(target)).toEqual(before);
    expect(lstatSync(p('.toolskube', name)).ino).toBe(entry);
  });

  it('a foreign client.key is never read for adoption', async () => {
    mkdirSync(p('.toolskube'), { mode: 0o700 });
    own(p('.toolskube'));
    linkSync(foreign(), p('.toolskube', 'client.key'));
    fileOf(p('.toolskube', 'client.crt'), UID, 'CERT\n');
    const err = await homes()
      .readCredentials(account)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((err as HomeError).reason).toBe('foreign-owner');
  });
});

describe('writeCredentials: races between the read and the replacement of ~/.kube/config', () => {
  const races: [string, RacePoint, () => void, HomeProblem][] = [
    [
      "the config becomes a hard link to another uid's file after it was read",
      'file-checked',
      () => {
        unlinkSync(p('.kube', 'config'));
        linkSync(join(root, 'secret'), p('.kube', 'config'));
      },
      'foreign-owner',
    ],
    [
      'the config becomes a symlink just before the rename',
      'temp-written',
      () => {
        unlinkSync(p('.kube', 'config'));
        symlinkSync(join(root, 'secret'), p('.kube', 'config'));
      },
      'symlink',
    ],
    [
      'the tool edits its config while kubeusers merges',
      'file-checked',
      () => writeFileSync(p('.kube', 'config'), 'clusters: []\n# edited\n'),
      'raced',
    ],
  ];

  it.each(races)('%s: left alone, nothing of the other file read', async (_, point, race, reason) => {
    fileOf(p('.kube', 'config'), UID, 'clusters: []\n');
    const secret = snapshot(foreign());
    const left = await homes(raceAt(point, 'config', race)).writeCredentials(account, CREDS, KC);
    expect(left.map((e) => e.reason)).toEqual([reason]);
    expect({ ...snapshot(join(root, 'secret')) }).toEqual(secret);
    const config = lstatSync(p('.kube', 'config'));
    if (config.isFile() && config.uid === UID)
      expect(readFileSync(p('.kube', 'config'), 'utf8')).not.toContain(MARKER);
    expect(readFileSync(p('.toolskube', 'client.key'), 'utf8')).toBe(CREDS.keyPem);
  });
});

describe('creating the directories of a home', () => {
  it("a directory of root's renamed over a new .toolskube is not given to the tool", async () => {
    mkdirSync(p('root-dir'), { mode: 0o700 });
    writeFileSync(p('root-dir', 'inside'), MARKER, { mode: 0o600 });
    // What the tool can do in its own home between kubeusers' mkdir and its first look.
    const hooks = raceAt('dir-made', '.toolskube', () => renameSync(p('root-dir'), p('.toolskube')));
    const err = await homes(hooks)
      .writeCredentials(account, CREDS, KC)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((err as HomeError).reason).toBe('raced');
    const st = statSync(p('.toolskube'));
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o700]);
    expect(readdirSync(p('.toolskube'))).toEqual(['inside']);
  });
});

describe('setDisabledFlag', () => {
  const cases: [string, boolean, () => string, HomeProblem | 'ok'][] = [
    ['writes a new flag', true, () => p('k8s.disabled'), 'ok'],
    [
      "leaves a hard link to another uid's file alone",
      true,
      () => {
        linkSync(foreign(), p('k8s.disabled'));
        return p('k8s.disabled');
      },
      'foreign-owner',
    ],
    [
      "does not remove another uid's file",
      false,
      () => fileOf(p('k8s.disabled'), OTHER, MARKER),
      'foreign-owner',
    ],
    ["removes the tool's own flag", false, () => fileOf(p('k8s.disabled'), UID, 'x'), 'ok'],
  ];

  it.each(cases)('%s', async (_, disabled, plant, want) => {
    const entry = plant();
    const before = want === 'ok' ? undefined : snapshot(entry);
    const got = await homes()
      .setDisabledFlag(account, disabled, 'locked')
      .then(
        () => 'ok' as const,
        (e: unknown) => (e as HomeError).reason,
      );
    expect(got).toBe(want);
    if (before) expect(snapshot(entry)).toEqual(before);
    if (want === 'ok')
      expect(lstatSync(p('k8s.disabled'), { throwIfNoEntry: false }) !== undefined).toBe(disabled);
  });
});

describe('an issuance stopped at each of its write steps', () => {
  /** What the home holds at each point the crash tests stop at (the process dies right there). */
  const points: [string, (entries: { key?: number; keyTemp?: number; cert: boolean }) => void][] = [
    // The certificate is in place; the key is still kubeusers' own temp file: nobody else reads it.
    ['cert-written', (e) => expect(e).toEqual({ keyTemp: 0, cert: true })],
    ['key-written', (e) => expect(e).toEqual({ key: UID, cert: true })],
  ];

  it.each(points)('at %s', async (point, check) => {
    let seen: { key?: number; keyTemp?: number; cert: boolean } | undefined;
    const at = (name: string): void => {
      if (name !== point) return;
      const names = readdirSync(p('.toolskube'));
      const temp = names.find((n) => n.startsWith('.client.key.kubeusers-'));
      seen = {
        ...(names.includes('client.key') ? { key: lstatSync(p('.toolskube', 'client.key')).uid } : {}),
        ...(temp ? { keyTemp: lstatSync(p('.toolskube', temp)).uid } : {}),
        cert: names.includes('client.crt'),
      };
      if (temp) expect(lstatSync(p('.toolskube', temp)).mode & 0o777).toBe(0o600);
    };
    expect(await homes().writeCredentials(account, CREDS, KC, at)).toEqual([]);
    check(seen!);
  });

  it('a later write removes the temp files an interrupted one left, and only those', async () => {
    mkdirSync(p('.toolskube'), { mode: 0o700 });
    own(p('.toolskube'));
    const uuid = '0f0e0d0c-0b0a-4908-8706-050403020100';
    const orphans = [
      fileOf(p('.toolskube', `.client.key.kubeusers-${uuid}`), 0, 'KEY\n'),
      fileOf(p('.toolskube', `.client.crt.kubeusers-${uuid}`), UID, 'CERT\n'),
      fileOf(p('.kube', `.config.kubeusers-${uuid}`), UID, 'apiVersion: v1\n'),
    ];
    const kept = [
      fileOf(p('.toolskube', '.client.key.kubeusers-not-a-uuid'), UID, 'mine\n'),
      fileOf(p('.toolskube', `.notes.kubeusers-${uuid}.bak`), UID, 'mine\n'),
      fileOf(p('.kube', `.config.kubeusers-${'1'.repeat(8)}-2222-4333-8444-${'5'.repeat(12)}`), OTHER, 'x\n'),
    ];
    symlinkSync(foreign(), p('.kube', `.config.kubeusers-${'6'.repeat(8)}-7777-4888-8999-${'a'.repeat(12)}`));
    kept.push(p('.kube', `.config.kubeusers-${'6'.repeat(8)}-7777-4888-8999-${'a'.repeat(12)}`));
    const logged: string[] = [];
    const layout = { root, credentialsDir: '.toolskube', disabledFlag: 'k8s.disabled' };
    const h = new SafeHomes({ tool: layout, admin: layout }, undefined, (f) => logged.push(...f.removed));
    expect(await h.writeCredentials(account, CREDS, KC)).toEqual([]);
    for (const o of orphans)
      expect({ o, gone: !readdirSync(join(o, '..')).includes(o.split('/').pop()!) }).toEqual({
        o,
        gone: true,
      });
    for (const k of kept)
      expect({ k, there: lstatSync(k).isFile() || lstatSync(k).isSymbolicLink() }).toEqual({
        k,
        there: true,
      });
    expect(logged.sort()).toEqual([...orphans].sort());
    expect(statSync(join(root, 'secret')).uid).toBe(OTHER);
  });
});
