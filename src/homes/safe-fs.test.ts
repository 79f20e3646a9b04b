// The safe file-system layer: pure verdicts as tables, then the real operations against a temp dir
// (the tests run as root, so files of any uid can be made), with races staged through the hooks.
import { execFileSync } from 'node:child_process';
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
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  createdDirProblem,
  dirProblem,
  fileProblem,
  HomeError,
  leftByKubeusers,
  openDir,
  orphanRemovable,
  tempFileFor,
  tempFileName,
  openOrCreateDir,
  readFileIn,
  removeFileIn,
  sameEntry,
  stageFile,
  writeFileAtomic,
  type Facts,
  type HomeProblem,
  type Hooks,
  type RacePoint,
} from './safe-fs.ts';

const ME = 41_001;
const OTHER = 41_002;
const owner = { uid: ME, gid: ME };

const facts = (over: Partial<Facts> = {}): Facts => ({
  type: 'file',
  uid: ME,
  nlink: 1,
  mode: 0o600,
  size: 10,
  dev: 1,
  ino: 100,
  born: 1000,
  modified: 2000,
  ...over,
});

describe('fileProblem: which files in a home may be read or replaced', () => {
  const cases: [string, Partial<Facts>, HomeProblem | undefined][] = [
    ["the account's own file with one name", {}, undefined],
    ["root's file with one name", { uid: 0 }, undefined],
    ["another uid's file", { uid: OTHER }, 'foreign-owner'],
    ["another uid's file with two names", { uid: OTHER, nlink: 2 }, 'foreign-owner'],
    ["the account's own file with a second name", { nlink: 2 }, 'hard-link'],
    ["root's file with a second name", { uid: 0, nlink: 2 }, 'hard-link'],
    ['a symlink', { type: 'symlink' }, 'symlink'],
    ['a directory', { type: 'directory', nlink: 2 }, 'not-a-file'],
    ['a FIFO or device', { type: 'other' }, 'not-a-file'],
  ];
  it.each(cases)('%s', (_, f, want) => {
    expect(fileProblem(facts(f), ME)).toBe(want);
  });
});

describe('dirProblem: which existing directories may be used', () => {
  const cases: [string, Partial<Facts>, number, HomeProblem | undefined][] = [
    ["the owner's directory", { type: 'directory' }, ME, undefined],
    ["root's directory where root must own it", { type: 'directory', uid: 0 }, 0, undefined],
    ["root's directory where the account must own it", { type: 'directory', uid: 0 }, ME, 'foreign-owner'],
    ["another uid's directory", { type: 'directory', uid: OTHER }, ME, 'foreign-owner'],
    ['a symlink', { type: 'symlink' }, ME, 'symlink'],
    ['a file', { type: 'file' }, ME, 'not-a-directory'],
  ];
  it.each(cases)('%s', (_, f, ownerUid, want) => {
    expect(dirProblem(facts(f), ownerUid)).toBe(want);
  });
});

describe('createdDirProblem: is the directory opened after mkdir the one made', () => {
  const made = { dev: 1, ino: 100 };
  const dir = (over: Partial<Facts> = {}): Facts => facts({ type: 'directory', uid: 0, nlink: 2, ...over });
  const cases: [string, Facts, number, HomeProblem | undefined][] = [
    ['the directory made, empty and still ours', dir(), 0, undefined],
    ['another inode', dir({ ino: 101 }), 0, 'raced'],
    ['another device', dir({ dev: 2 }), 0, 'raced'],
    ['owned by someone else', dir({ uid: ME }), 0, 'raced'],
    ['with something in it', dir(), 1, 'raced'],
    ['not a directory', dir({ type: 'file' }), 0, 'not-a-directory'],
  ];
  it.each(cases)('%s', (_, f, entries, want) => {
    expect(createdDirProblem(f, made, 0, entries)).toBe(want);
  });
});

describe('leftByKubeusers: an existing directory kubeusers made and never chowned', () => {
  const dir = (over: Partial<Facts> = {}): Facts =>
    facts({ type: 'directory', uid: 0, mode: 0o700, ...over });
  const cases: [string, Facts, number, boolean][] = [
    ["kubeusers' own, 0700, empty", dir(), 0, true],
    ["kubeusers' own, with something in it", dir(), 1, false],
    ["kubeusers' own, 0755 (not what its mkdir leaves)", dir({ mode: 0o755 }), 0, false],
    ["kubeusers' own, setgid", dir({ mode: 0o2700 }), 0, false],
    ["another uid's", dir({ uid: OTHER }), 0, false],
    ['a symlink', dir({ type: 'symlink' }), 0, false],
  ];
  it.each(cases)('%s', (_, f, entries, want) => {
    expect(leftByKubeusers(f, 0, entries)).toBe(want);
  });
});

describe('tempFileFor: the temp names kubeusers writes, and only those', () => {
  const cases: [string, string, string | undefined][] = [
    ['a key being written', tempFileName('client.key'), 'client.key'],
    ['a kubeconfig being written', '.config.kubeusers-0f0e0d0c-0b0a-4908-8706-050403020100', 'config'],
    ['no uuid', '.config.kubeusers-mine', undefined],
    ['something after the uuid', '.config.kubeusers-0f0e0d0c-0b0a-4908-8706-050403020100.bak', undefined],
    ['no leading dot', 'config.kubeusers-0f0e0d0c-0b0a-4908-8706-050403020100', undefined],
    ["a directory's temp name", '.kube.kubeusers-new', undefined],
    ['the file itself', 'client.key', undefined],
  ];
  it.each(cases)('%s', (_, name, want) => {
    expect(tempFileFor(name)).toBe(want);
  });
});

describe('orphanRemovable: which temp files a later write removes', () => {
  const cases: [string, Partial<Facts>, boolean][] = [
    ["kubeusers' own, before its chown", { uid: 0 }, true],
    ["the account's, after the chown", {}, true],
    ["another uid's", { uid: OTHER }, false],
    ['with a second name', { nlink: 2 }, false],
    ['a symlink', { type: 'symlink' }, false],
    ['a directory', { type: 'directory' }, false],
  ];
  it.each(cases)('%s', (_, f, want) => {
    expect(orphanRemovable(facts(f), ME, 0)).toBe(want);
  });
});

describe('sameEntry', () => {
  const cases: [string, Facts | undefined, Facts | undefined, boolean][] = [
    ['absent both times', undefined, undefined, true],
    ['the same file', facts(), facts({ nlink: 2 }), true],
    ['the same inode number, born again', facts(), facts({ born: 1001 }), false],
    ['modified', facts(), facts({ modified: 2001, size: 99 }), false],
    ['appeared', undefined, facts(), false],
    ['vanished', facts(), undefined, false],
    ['another inode', facts(), facts({ ino: 7 }), false],
    ['another type', facts(), facts({ type: 'symlink' }), false],
  ];
  it.each(cases)('%s', (_, a, b, want) => {
    expect(sameEntry(a, b)).toBe(want);
  });
});

// ---- the real file system ----

let base: string;
let home: string;
let elsewhere: string;
let dir: FileHandle;
const tmpRoot = mkdtempSync(join(tmpdir(), 'kubeusers-safe-fs-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** A file of `uid` with `text`, made as root (the tests run as root). */
function fileOf(path: string, uid: number, text: string, mode = 0o600): string {
  writeFileSync(path, text, { mode });
  chownSync(path, uid, uid);
  return path;
}

const identity = (path: string): { ino: number; uid: number; nlink: number; text: string } => {
  const st = lstatSync(path);
  return {
    ino: st.ino,
    uid: st.uid,
    nlink: st.nlink,
    text: st.isSymbolicLink() ? `-> ${readFileSync(path, 'utf8')}` : readFileSync(path, 'utf8'),
  };
};

/** Hooks that run `fn` once at `point`. */
function raceAt(point: RacePoint, fn: () => void): Hooks {
  let done = false;
  return {
    at: (p) => {
      if (p !== point || done) return;
      done = true;
      fn();
    },
  };
}

const reasonOf = async (p: Promise<unknown>): Promise<HomeProblem | 'ok'> =>
  p.then(
    () => 'ok' as const,
    (err: unknown) => {
      if (err instanceof HomeError) return err.reason;
      throw err;
    },
  );

beforeEach(async () => {
  base = mkdtempSync(join(tmpRoot, 'case-'));
  home = join(base, 'home');
  elsewhere = join(base, 'elsewhere');
  mkdirSync(home, { mode: 0o755 });
  mkdirSync(elsewhere, { mode: 0o755 });
  chownSync(home, ME, ME);
  dir = await openDir(home);
});
afterEach(async () => {
  await dir.close();
});

const SECRET = 'not-a-real-secret-of-someone-else';

describe('readFileIn', () => {
  const cases: [string, () => void, string | undefined][] = [
    ['absent', () => undefined, undefined],
    ["the account's own file", () => fileOf(join(home, 'f'), ME, 'mine'), 'mine'],
    ["root's file", () => fileOf(join(home, 'f'), 0, 'root-made'), 'root-made'],
    ["another uid's file", () => fileOf(join(home, 'f'), OTHER, SECRET), 'foreign-owner'],
    [
      "a hard link to another uid's file",
      () => linkSync(fileOf(join(elsewhere, 's'), OTHER, SECRET), join(home, 'f')),
      'foreign-owner',
    ],
    [
      "a hard link to root's file",
      () => linkSync(fileOf(join(elsewhere, 's'), 0, SECRET), join(home, 'f')),
      'hard-link',
    ],
    [
      "a second name of the account's own file",
      () => linkSync(fileOf(join(elsewhere, 's'), ME, 'mine'), join(home, 'f')),
      'hard-link',
    ],
    [
      "a symlink to another uid's file",
      () => symlinkSync(fileOf(join(elsewhere, 's'), OTHER, SECRET), join(home, 'f')),
      'symlink',
    ],
    ['a FIFO (without hanging)', () => execFileSync('mkfifo', [join(home, 'f')]), 'not-a-file'],
    ['a directory', () => mkdirSync(join(home, 'f')), 'not-a-file'],
    ['a file over 1 MiB', () => fileOf(join(home, 'f'), ME, 'x'.repeat(1024 * 1024 + 1)), 'too-large'],
  ];

  it.each(cases)('%s', async (_, plant, want) => {
    plant();
    const before = readdirSync(home).map((n) => lstatSync(join(home, n)).ino);
    const got = await readFileIn(dir, 'f', { owner, label: '~/f' }).then(
      (r) => r?.text,
      (err: unknown) => (err as HomeError).reason,
    );
    expect(got).toBe(want);
    expect(readdirSync(home).map((n) => lstatSync(join(home, n)).ino)).toEqual(before);
  });

  it('reads what it checked, even if the name is swapped for a symlink right after the check', async () => {
    fileOf(join(home, 'f'), ME, 'mine');
    const secret = fileOf(join(elsewhere, 's'), OTHER, SECRET);
    const hooks = raceAt('file-checked', () => {
      unlinkSync(join(home, 'f'));
      symlinkSync(secret, join(home, 'f'));
    });
    const got = await readFileIn(dir, 'f', { owner, label: '~/f', hooks });
    expect(got?.text).toBe('mine');
  });
});

describe('writeFileAtomic', () => {
  const write = (o: { hooks?: Hooks; expect?: Facts | null } = {}) =>
    writeFileAtomic(dir, 'f', 'new', { owner, label: '~/f', mode: 0o640, ...o });

  const refused: [string, () => string, HomeProblem][] = [
    ["another uid's file", () => fileOf(join(home, 'f'), OTHER, SECRET), 'foreign-owner'],
    [
      "a hard link to another uid's file",
      () => {
        linkSync(fileOf(join(elsewhere, 's'), OTHER, SECRET), join(home, 'f'));
        return join(elsewhere, 's');
      },
      'foreign-owner',
    ],
    [
      "a second name of the account's own file",
      () => {
        linkSync(fileOf(join(elsewhere, 's'), ME, 'mine'), join(home, 'f'));
        return join(elsewhere, 's');
      },
      'hard-link',
    ],
    [
      'a symlink',
      () => {
        symlinkSync(fileOf(join(elsewhere, 's'), OTHER, SECRET), join(home, 'f'));
        return join(elsewhere, 's');
      },
      'symlink',
    ],
    [
      'a directory',
      () => {
        mkdirSync(join(home, 'f'));
        return join(home, 'f');
      },
      'not-a-file',
    ],
  ];

  it.each(refused)('leaves %s alone', async (_, plant, want) => {
    const target = plant();
    const entry = lstatSync(join(home, 'f')).ino;
    const before = statSync(target).isFile() ? identity(target) : undefined;
    expect(await reasonOf(write())).toBe(want);
    expect(lstatSync(join(home, 'f')).ino).toBe(entry);
    if (before) expect(identity(target)).toEqual(before);
    expect(readdirSync(home)).toEqual(['f']); // no temp file left behind
  });

  const written: [string, () => void][] = [
    ['absent', () => undefined],
    ["the account's own file", () => fileOf(join(home, 'f'), ME, 'old')],
    ["root's file", () => fileOf(join(home, 'f'), 0, 'old')],
  ];

  it.each(written)('replaces %s with a new file of the account', async (_, plant) => {
    plant();
    expect(await reasonOf(write())).toBe('ok');
    const st = statSync(join(home, 'f'));
    expect([st.uid, st.gid, st.mode & 0o7777, st.nlink]).toEqual([ME, ME, 0o640, 1]);
    expect(readFileSync(join(home, 'f'), 'utf8')).toBe('new');
    expect(readdirSync(home)).toEqual(['f']);
  });

  const races: [string, () => void, HomeProblem][] = [
    [
      "a hard link to another uid's file appears",
      () => {
        unlinkSync(join(home, 'f'));
        linkSync(join(elsewhere, 's'), join(home, 'f'));
      },
      'foreign-owner',
    ],
    [
      'a symlink is swapped in',
      () => {
        unlinkSync(join(home, 'f'));
        symlinkSync(join(elsewhere, 's'), join(home, 'f'));
      },
      'symlink',
    ],
    [
      'the account puts another file of its own there',
      () => {
        unlinkSync(join(home, 'f'));
        fileOf(join(home, 'f'), ME, 'other');
      },
      'raced',
    ],
    [
      'the file is removed',
      () => {
        unlinkSync(join(home, 'f'));
      },
      'raced',
    ],
  ];

  it.each(races)('between the last check and the rename, %s: left alone', async (_, race, want) => {
    fileOf(join(home, 'f'), ME, 'old');
    const secret = identity(fileOf(join(elsewhere, 's'), OTHER, SECRET));
    expect(await reasonOf(write({ hooks: raceAt('temp-written', race) }))).toBe(want);
    expect(identity(join(elsewhere, 's'))).toEqual({
      ...secret,
      nlink: lstatSync(join(elsewhere, 's')).nlink,
    });
    expect(readdirSync(home).filter((n) => n !== 'f')).toEqual([]);
  });

  it('refuses to replace a file that is not the one read', async () => {
    const old = fileOf(join(home, 'f'), ME, 'old');
    const read = await readFileIn(dir, 'f', { owner, label: '~/f' });
    unlinkSync(old);
    fileOf(join(home, 'f'), ME, 'newer');
    expect(await reasonOf(write({ expect: read!.facts }))).toBe('raced');
    expect(readFileSync(join(home, 'f'), 'utf8')).toBe('newer');
  });

  it('refuses to create a file where one appeared since it was found absent', async () => {
    fileOf(join(home, 'f'), ME, 'appeared');
    expect(await reasonOf(write({ expect: null }))).toBe('raced');
    expect(readFileSync(join(home, 'f'), 'utf8')).toBe('appeared');
  });
});

describe('removeFileIn', () => {
  const cases: [string, () => void, HomeProblem | boolean][] = [
    ['absent', () => undefined, false],
    ["the account's own file", () => fileOf(join(home, 'f'), ME, 'x'), true],
    ["another uid's file", () => fileOf(join(home, 'f'), OTHER, SECRET), 'foreign-owner'],
    ['a hard link', () => linkSync(fileOf(join(elsewhere, 's'), ME, 'x'), join(home, 'f')), 'hard-link'],
    ['a symlink', () => symlinkSync(join(elsewhere, 'nothing'), join(home, 'f')), 'symlink'],
  ];
  it.each(cases)('%s', async (_, plant, want) => {
    plant();
    const got = await removeFileIn(dir, 'f', { owner, label: '~/f' }).catch(
      (err: unknown) => (err as HomeError).reason,
    );
    expect(got).toBe(want);
    if (typeof want === 'string') expect(readdirSync(home)).toEqual(['f']);
  });
});

describe('openOrCreateDir', () => {
  const open = (hooks?: Hooks) =>
    openOrCreateDir(dir, 'd', { owner, mode: 0o750, label: '~/d', ...(hooks ? { hooks } : {}) }).then(
      async (fh) => {
        await fh.close();
        return 'ok' as const;
      },
    );

  const existing: [string, () => void, HomeProblem | 'ok'][] = [
    [
      "the account's own directory",
      () => {
        mkdirSync(join(home, 'd'));
        chownSync(join(home, 'd'), ME, ME);
      },
      'ok',
    ],
    [
      "another uid's directory",
      () => {
        mkdirSync(join(home, 'd'));
        chownSync(join(home, 'd'), OTHER, OTHER);
      },
      'foreign-owner',
    ],
    ["root's directory", () => mkdirSync(join(home, 'd')), 'foreign-owner'],
    ['a symlink to a directory', () => symlinkSync(elsewhere, join(home, 'd')), 'symlink'],
    ['a file', () => fileOf(join(home, 'd'), ME, 'x'), 'not-a-directory'],
  ];

  it.each(existing)('%s', async (_, plant, want) => {
    plant();
    const before = lstatSync(join(home, 'd'));
    expect(await reasonOf(open())).toBe(want);
    const after = lstatSync(join(home, 'd'));
    expect([after.ino, after.uid, after.mode]).toEqual([before.ino, before.uid, before.mode]);
    expect(statSync(elsewhere).uid).toBe(0);
  });

  it('creates a missing one, owned by the account with the mode asked for', async () => {
    expect(await reasonOf(open())).toBe('ok');
    const st = statSync(join(home, 'd'));
    expect([st.isDirectory(), st.uid, st.gid, st.mode & 0o7777]).toEqual([true, ME, ME, 0o750]);
  });

  /** A directory of root's with something in it, in the same parent: what a swap would bring in. */
  const rootDir = (name: string, withContent: boolean): string => {
    const path = join(home, name);
    mkdirSync(path, { mode: 0o700 });
    if (withContent) writeFileSync(join(path, 'inside'), SECRET, { mode: 0o600 });
    return path;
  };

  const tmp = (): string => join(home, '.d.kubeusers-new');
  const races: [string, RacePoint, () => void, HomeProblem | 'ok'][] = [
    [
      "right after mkdir, root's directory with content is renamed over the temp one",
      'dir-made',
      () => renameSync(rootDir('r', true), tmp()),
      'raced',
    ],
    [
      'right after mkdir, the temp one is replaced by a symlink',
      'dir-made',
      () => {
        rmSync(tmp(), { recursive: true });
        symlinkSync(elsewhere, tmp());
      },
      'symlink',
    ],
    [
      "before the rename, root's directory with content appears under the name",
      'dir-checked',
      () => void rootDir('d', true),
      'raced',
    ],
    [
      "before the rename, an empty directory of the account's appears under the name",
      'dir-checked',
      () => {
        mkdirSync(join(home, 'd'));
        chownSync(join(home, 'd'), ME, ME);
      },
      'raced',
    ],
    [
      'before the rename, a symlink appears under the name',
      'dir-checked',
      () => symlinkSync(elsewhere, join(home, 'd')),
      'raced',
    ],
  ];

  it.each(races)(
    '%s: nothing else is chowned, nothing is left under the temp name',
    async (_, point, race, want) => {
      expect(await reasonOf(open(raceAt(point, race)))).toBe(want);
      expect(statSync(elsewhere).uid).toBe(0);
      for (const e of readdirSync(home).map((n) => join(home, n))) {
        const st = lstatSync(e);
        // What the race put there stays as it was; nothing of root's was given to the account.
        if (st.uid === 0 && st.isDirectory()) expect(readdirSync(e)).toContain('inside');
      }
      // Ours is removed; what was swapped in under the temp name is not ours to remove.
      expect(readdirSync(home).includes('.d.kubeusers-new')).toBe(point === 'dir-made');
    },
  );

  it('before the rename, the account swaps the temp directory (now its own) for a symlink: refused, not followed', async () => {
    const hooks = raceAt('dir-checked', () => {
      renameSync(tmp(), join(home, 'mine'));
      symlinkSync(elsewhere, tmp());
    });
    expect(await reasonOf(open(hooks))).toBe('raced');
    expect(statSync(elsewhere).uid).toBe(0);
    expect(lstatSync(join(home, 'd')).isSymbolicLink()).toBe(true);
  });

  const leftovers: [string, () => void, HomeProblem | 'ok', number][] = [
    [
      "an empty directory of root's, 0700 (kubeusers' own mkdir, never chowned): adopted",
      () => void mkdirSync(join(home, 'd'), { mode: 0o700 }),
      'ok',
      ME,
    ],
    ["root's directory with something in it: foreign", () => void rootDir('d', true), 'foreign-owner', 0],
    [
      "an empty directory of root's with another mode: foreign",
      () => void mkdirSync(join(home, 'd'), { mode: 0o755 }),
      'foreign-owner',
      0,
    ],
    [
      'a temp directory an interrupted creation left: removed, the directory made anew',
      () => void mkdirSync(tmp(), { mode: 0o700 }),
      'ok',
      ME,
    ],
    [
      'something else under the temp name: the creation stops',
      () => void symlinkSync(elsewhere, tmp()),
      'raced',
      -1,
    ],
  ];

  it.each(leftovers)('%s', async (_, plant, want, uid) => {
    plant();
    expect(await reasonOf(open())).toBe(want);
    if (uid >= 0) expect(lstatSync(join(home, 'd')).uid).toBe(uid);
    if (want === 'ok') expect(readdirSync(home)).toEqual(['d']);
    expect(statSync(elsewhere).uid).toBe(0);
  });
});

describe('stageFile with the chown held back until commit', () => {
  const stage = () =>
    stageFile(dir, 'key', 'KEY', { owner, label: '~/key', mode: 0o600, chownOnCommit: true });
  const temp = (): string => readdirSync(home).find((n) => n.startsWith('.key.kubeusers-'))!;

  it("stays kubeusers' own 0600 temp file until commit, then becomes the account's", async () => {
    const staged = await stage();
    const st = lstatSync(join(home, temp()));
    expect([st.uid, st.mode & 0o7777, readdirSync(home)]).toEqual([0, 0o600, [temp()]]);
    await staged.commit();
    const done = lstatSync(join(home, 'key'));
    expect([done.uid, done.mode & 0o7777, readdirSync(home)]).toEqual([ME, 0o600, ['key']]);
  });

  const swaps: [string, (tmp: string) => void][] = [
    ["a second name of root's file", (tmp) => linkSync(fileOf(join(elsewhere, 's'), 0, SECRET), tmp)],
    ["another file of root's", (tmp) => fileOf(tmp, 0, SECRET)],
  ];

  it.each(swaps)('the temp file swapped for %s before commit: nothing is chowned', async (_, swap) => {
    const staged = await stage();
    const tmp = join(home, temp());
    unlinkSync(tmp);
    swap(tmp);
    expect(await reasonOf(staged.commit())).toBe('raced');
    expect(readdirSync(home)).not.toContain('key');
    for (const f of [join(elsewhere, 's'), tmp])
      if (readdirSync(join(f, '..')).includes(f.split('/').pop()!)) expect(lstatSync(f).uid).toBe(0);
  });
});

describe('writeFileAtomic through the fixed temp name', () => {
  const tmp = (): string => join(home, '.f.kubeusers-new');
  const write = () => writeFileAtomic(dir, 'f', 'new', { owner, label: '~/f', mode: 0o644, fixedTemp: true });

  const leftovers: [string, () => void, HomeProblem | 'ok'][] = [
    ['nothing left', () => undefined, 'ok'],
    [
      "kubeusers' own temp file left by a crash: removed, then written",
      () => void fileOf(tmp(), 0, 'old'),
      'ok',
    ],
    ["the account's (after the chown): removed, then written", () => void fileOf(tmp(), ME, 'old'), 'ok'],
    [
      'a symlink under the temp name: left, nothing written',
      () => symlinkSync(join(elsewhere, 's'), tmp()),
      'raced',
    ],
    [
      "a second name of another uid's file: left, nothing written",
      () => linkSync(fileOf(join(elsewhere, 's'), OTHER, SECRET), tmp()),
      'raced',
    ],
  ];

  it.each(leftovers)('%s', async (_, plant, want) => {
    plant();
    expect(await reasonOf(write())).toBe(want);
    if (want === 'ok') {
      expect(readdirSync(home)).toEqual(['f']);
      expect(readFileSync(join(home, 'f'), 'utf8')).toBe('new');
    } else {
      expect(readdirSync(home)).toEqual(['.f.kubeusers-new']);
    }
  });
});
