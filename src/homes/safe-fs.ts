// File operations anchored to directory handles, so that no path component is ever followed as a
// symlink: each directory is opened with O_NOFOLLOW and its children are reached through
// /proc/self/fd/<fd>/<name>, which Linux resolves to the opened directory itself (openat(2) for Node).
// Every file read is checked on its open descriptor (fstat), every file replaced or removed is checked
// just before, and every directory created is checked to be the one created before it is chowned
// (ADR 6). What fails a check is left alone and reported as a HomeError with a reason code.
// Nothing half-made is ever left under a name the account uses: a directory is made under a temp
// name, chowned, then renamed into place; a file is written to a temp file, then renamed. A crash
// leaves only temp entries with kubeusers' own recognisable names, which a later write removes (ADR 15).
import { constants as C, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';

export type HomeProblem =
  | 'symlink'
  | 'foreign-owner'
  | 'hard-link'
  | 'not-a-directory'
  | 'not-a-file'
  | 'too-large'
  | 'unparsable'
  /** The entry changed between kubeusers' check and its act (someone raced it). */
  | 'raced';

export class HomeError extends Error {
  readonly reason: HomeProblem;

  constructor(message: string, reason: HomeProblem, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

const MAX_READ = 1024 * 1024;

export function at(dir: FileHandle, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/'))
    throw new Error(`unsafe file name "${name}"`);
  return `/proc/self/fd/${dir.fd}/${name}`;
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export interface Owner {
  uid: number;
  gid: number;
}

/** What the checks need to know about an entry: from fstat on an open descriptor, or from lstat. */
export interface Facts {
  type: 'file' | 'directory' | 'symlink' | 'other';
  uid: number;
  nlink: number;
  /** Permission bits, with setuid, setgid and sticky. */
  mode: number;
  size: number;
  dev: number;
  ino: number;
  /** Birth and modification times (ms): inode numbers are reused at once, these tell a new file apart. */
  born: number;
  modified: number;
}

export function factsOf(st: Stats): Facts {
  const type = st.isSymbolicLink()
    ? 'symlink'
    : st.isDirectory()
      ? 'directory'
      : st.isFile()
        ? 'file'
        : 'other';
  return {
    type,
    uid: st.uid,
    nlink: st.nlink,
    mode: st.mode & 0o7777,
    size: st.size,
    dev: st.dev,
    ino: st.ino,
    born: st.birthtimeMs,
    modified: st.mtimeMs,
  };
}

/**
 * Why an existing file in a home may not be read or replaced, or undefined when it may: it must be
 * a regular file with one name, owned by the account or by root. A file of someone else (moved in,
 * or linked in) is someone else's business, however the account came to have a name for it.
 */
export function fileProblem(f: Facts, accountUid: number): HomeProblem | undefined {
  if (f.type === 'symlink') return 'symlink';
  if (f.type !== 'file') return 'not-a-file';
  if (f.uid !== accountUid && f.uid !== 0) return 'foreign-owner';
  if (f.nlink !== 1) return 'hard-link';
  return undefined;
}

/** Why an existing directory may not be used: it must be a real directory of `ownerUid`. */
export function dirProblem(f: Facts, ownerUid: number): HomeProblem | undefined {
  if (f.type === 'symlink') return 'symlink';
  if (f.type !== 'directory') return 'not-a-directory';
  if (f.uid !== ownerUid) return 'foreign-owner';
  return undefined;
}

/**
 * Whether the directory opened after mkdir is the one kubeusers created: a directory owned by
 * kubeusers itself (`self`), with the inode seen right after mkdir, and still empty. Anything else
 * was swapped in by someone who can write the parent, and is not chowned to anybody.
 */
export function createdDirProblem(
  f: Facts,
  expected: Pick<Facts, 'dev' | 'ino'>,
  self: number,
  entries: number,
): HomeProblem | undefined {
  if (f.type !== 'directory') return 'not-a-directory';
  if (f.uid !== self || f.dev !== expected.dev || f.ino !== expected.ino) return 'raced';
  // Not nlink: some file systems (btrfs) count a directory's links differently.
  if (entries !== 0) return 'raced';
  return undefined;
}

/**
 * Whether an existing directory that is not the owner's is one kubeusers itself made and never got
 * to chown (the release before ADR 15 made directories in place, so a crash between mkdir and chown
 * left them so): owned by kubeusers (`self`), with exactly the mode its mkdir leaves (0700), and
 * empty. Such a directory may be given to its owner; anything else stays foreign.
 */
export function leftByKubeusers(f: Facts, self: number, entries: number): boolean {
  return f.type === 'directory' && f.uid === self && f.mode === 0o700 && entries === 0;
}

/** Temp names: `.<name>.kubeusers-<uuid>` for files, `.<name>.kubeusers-new` for directories. */
const TEMP_FILE = /^\.(.+)\.kubeusers-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const tempFileName = (name: string): string => `.${name}.kubeusers-${globalThis.crypto.randomUUID()}`;
/** The fixed temp name: of a directory being made, or of a file written into a home (see fixedTemp). */
export const tempDirName = (name: string): string => `.${name}.kubeusers-new`;

/** The name a temp file of kubeusers' own was written for, if `entry` is one. */
export function tempFileFor(entry: string): string | undefined {
  return TEMP_FILE.exec(entry)?.[1];
}

/**
 * Whether a temp file left by an interrupted write may be removed: a regular file with that one name,
 * owned by kubeusers (before its chown) or by the account (after). A symlink, a directory, a file of
 * someone else or one with a second name is not kubeusers' own, whatever it is called.
 */
export function orphanRemovable(f: Facts, accountUid: number, self: number): boolean {
  return f.type === 'file' && f.nlink === 1 && (f.uid === self || f.uid === accountUid);
}

/**
 * Whether two looks at an entry saw the same thing: both nothing, or the same unmodified file. A
 * file the account changed or replaced meanwhile is not overwritten with what was merged from the old.
 */
export function sameEntry(before: Facts | undefined, now: Facts | undefined): boolean {
  if (!before || !now) return before === now;
  const keys = ['type', 'dev', 'ino', 'born', 'modified'] as const;
  return keys.every((k) => before[k] === now[k]);
}

const MESSAGES: Record<HomeProblem, (label: string, f: Partial<Facts>, owner: string) => string> = {
  symlink: (l) => `${l} is a symlink; nothing is read or written through it, it is left alone`,
  'foreign-owner': (l, f, owner) => `${l} belongs to uid ${f.uid}, not ${owner}; it is left alone`,
  'hard-link': (l, f) => `${l} has ${f.nlink} names (hard links); it is left alone`,
  'not-a-directory': (l) => `${l} is not a directory; it is left alone`,
  'not-a-file': (l) => `${l} is not a regular file; it is left alone`,
  'too-large': (l) => `${l} is larger than ${MAX_READ} bytes; it is left alone`,
  unparsable: (l) => `${l} cannot be read as expected; it is left alone`,
  raced: (l) => `${l} changed while kubeusers was checking it; it is left alone`,
};

export function problemMessage(
  problem: HomeProblem,
  label: string,
  f: Partial<Facts> = {},
  ownerUid?: number,
): string {
  return MESSAGES[problem](label, f, String(ownerUid ?? '?'));
}

function homeError(problem: HomeProblem, label: string, f?: Facts, ownerUid?: number): HomeError {
  return new HomeError(problemMessage(problem, label, f, ownerUid), problem);
}

/** Named points between a check and the act it guards: tests race the code there. */
export type RacePoint = 'dir-made' | 'dir-checked' | 'file-checked' | 'temp-written';

export interface Hooks {
  at?(point: RacePoint, name: string): void | Promise<void>;
}

/** lstat of `name` inside `dir`; undefined when absent. */
export async function factsIn(dir: FileHandle, name: string): Promise<Facts | undefined> {
  try {
    return factsOf(await lstat(at(dir, name)));
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Opens a directory by absolute path; the last component must not be a symlink. */
export async function openDir(path: string, label = path): Promise<FileHandle> {
  try {
    return await open(path, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch (err) {
    throw await dirError(err, path, label);
  }
}

/** With O_DIRECTORY, Linux reports a symlink as ENOTDIR; lstat tells the two apart for the message. */
async function dirError(err: unknown, path: string, label: string): Promise<Error> {
  const c = code(err);
  const link =
    c === 'ELOOP' ||
    (c === 'ENOTDIR' &&
      (await lstat(path).then(
        (st) => st.isSymbolicLink(),
        () => false,
      )));
  if (link) return homeError('symlink', label);
  if (c === 'ENOTDIR') return homeError('not-a-directory', label);
  return err as Error;
}

export interface DirOptions {
  owner: Owner;
  mode: number;
  /** How the directory is named in errors. */
  label: string;
  hooks?: Hooks;
}

const self = (): number => process.geteuid?.() ?? 0;

/** Opens `name` inside `parent` as a directory without following it; undefined when absent. */
async function openDirIn(parent: FileHandle, name: string, label: string): Promise<FileHandle | undefined> {
  try {
    return await open(at(parent, name), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw await dirError(err, at(parent, name), label);
  }
}

const entriesOf = async (dir: FileHandle): Promise<number> =>
  (await readdir(`/proc/self/fd/${dir.fd}`)).length;

/**
 * An existing directory: the owner's, or one kubeusers left before it could chown it (adopted: given
 * to the owner, on the open descriptor, while only kubeusers can write into it).
 */
async function useExistingDir(dir: FileHandle, o: DirOptions): Promise<void> {
  const f = factsOf(await dir.stat());
  const problem = dirProblem(f, o.owner.uid);
  if (!problem) return;
  if (problem === 'foreign-owner' && leftByKubeusers(f, self(), await entriesOf(dir))) {
    await dir.chown(o.owner.uid, o.owner.gid);
    await dir.chmod(o.mode);
    return;
  }
  throw homeError(problem, o.label, f, o.owner.uid);
}

/**
 * Removes the temp directory an earlier, interrupted creation left: only an empty directory of
 * kubeusers or of the owner (rmdir never follows a link and never removes anything non-empty).
 */
async function clearTempDir(parent: FileHandle, tmp: string, o: DirOptions): Promise<void> {
  const f = await factsIn(parent, tmp);
  if (!f) return;
  if (f.type !== 'directory' || (f.uid !== self() && f.uid !== o.owner.uid))
    throw homeError('raced', `${o.label} (its temp name ${tmp})`);
  try {
    await rmdir(at(parent, tmp));
  } catch (err) {
    if (code(err) === 'ENOTEMPTY' || code(err) === 'EEXIST')
      throw homeError('raced', `${o.label} (its temp name ${tmp})`);
    if (code(err) !== 'ENOENT') throw err;
  }
}

/** What a temp directory that vanished right after mkdir is compared as: nothing matches it. */
const GONE: Facts = {
  type: 'other',
  uid: -1,
  nlink: 0,
  mode: 0,
  size: 0,
  dev: -1,
  ino: -1,
  born: 0,
  modified: 0,
};

/**
 * Creates `name` inside `parent`: mkdir under a temp name, check that what is there is the directory
 * made (createdDirProblem), chown and chmod it on its descriptor, then rename it into place. Under its
 * own name it is never anybody's but the owner's, so a crash cannot leave one root-owned.
 */
async function createDir(parent: FileHandle, name: string, o: DirOptions): Promise<FileHandle> {
  const tmp = tempDirName(name);
  await clearTempDir(parent, tmp, o);
  await mkdir(at(parent, tmp), { mode: 0o700 });
  let dir: FileHandle | undefined;
  try {
    await o.hooks?.at?.('dir-made', name);
    const made = (await factsIn(parent, tmp)) ?? GONE;
    dir = await openDirIn(parent, tmp, o.label);
    if (!dir) throw homeError('raced', o.label);
    const problem = createdDirProblem(factsOf(await dir.stat()), made, self(), await entriesOf(dir));
    if (problem) throw homeError(problem, o.label);
    await dir.chown(o.owner.uid, o.owner.gid);
    await dir.chmod(o.mode);
    await o.hooks?.at?.('dir-checked', name);
    await placeDir(parent, tmp, name, dir, o.label);
    return dir;
  } catch (err) {
    await dir?.close();
    await rmdir(at(parent, tmp)).catch(() => undefined);
    throw err;
  }
}

/** Renames the temp directory `dir` into place, and checks that what is there now is `dir`. */
async function placeDir(
  parent: FileHandle,
  tmp: string,
  name: string,
  dir: FileHandle,
  label: string,
): Promise<void> {
  // rename(2) would replace an empty directory that appeared meanwhile: look first.
  if (await factsIn(parent, name)) throw homeError('raced', label);
  await rename(at(parent, tmp), at(parent, name));
  const placed = await factsIn(parent, name);
  const own = factsOf(await dir.stat());
  if (placed?.dev !== own.dev || placed.ino !== own.ino) throw homeError('raced', label);
  await parent.sync();
}

/**
 * Opens `name` inside `parent` as a directory, creating it with `mode` and `owner` if missing (see
 * createDir). An existing one must belong to `owner.uid` (or be an empty one kubeusers left before it
 * could chown it): nothing is written into someone else's directory.
 */
export async function openOrCreateDir(parent: FileHandle, name: string, o: DirOptions): Promise<FileHandle> {
  const existing = await openDirIn(parent, name, o.label);
  if (!existing) return createDir(parent, name, o);
  try {
    await useExistingDir(existing, o);
    return existing;
  } catch (err) {
    await existing.close();
    throw err;
  }
}

/**
 * Removes the temp files interrupted writes left in `dir` (kubeusers' own names only, see
 * orphanRemovable); returns the names removed. Each is checked with lstat just before unlink, which
 * removes the name and never follows it.
 */
export async function removeOrphans(dir: FileHandle, o: FileOptions): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(`/proc/self/fd/${dir.fd}`)) {
    if (tempFileFor(entry) === undefined) continue;
    const f = await factsIn(dir, entry);
    if (!f || !orphanRemovable(f, o.owner.uid, self())) continue;
    try {
      await unlink(at(dir, entry));
      removed.push(entry);
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
    }
  }
  return removed;
}

export interface FileOptions {
  /** The account the home belongs to: its files (or root's) are the only ones read or replaced. */
  owner: Owner;
  /** How the file is named in errors. */
  label: string;
  hooks?: Hooks;
}

export interface ReadResult {
  text: string;
  /** The file read, so that a later replacement can tell whether it is still the same one. */
  facts: Facts;
}

/**
 * Reads a regular file inside `dir`; undefined when absent. The checks run on the open descriptor,
 * so what is read is exactly what was checked: a symlink, a FIFO, a file of someone else, a file with
 * another name elsewhere, or a huge one is refused and left alone.
 */
export async function readFileIn(
  dir: FileHandle,
  name: string,
  o: FileOptions,
): Promise<ReadResult | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(at(dir, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY);
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    if (code(err) === 'ELOOP') throw homeError('symlink', o.label);
    throw err;
  }
  try {
    const facts = factsOf(await fh.stat());
    const problem = fileProblem(facts, o.owner.uid) ?? (facts.size > MAX_READ ? 'too-large' : undefined);
    if (problem) throw homeError(problem, o.label, facts, o.owner.uid);
    await o.hooks?.at?.('file-checked', name);
    return { text: await fh.readFile('utf8'), facts };
  } finally {
    await fh.close();
  }
}

/** The entry `name` may be replaced or removed: absent, or a file fileProblem accepts. */
async function checkReplaceable(dir: FileHandle, name: string, o: FileOptions): Promise<Facts | undefined> {
  const f = await factsIn(dir, name);
  if (!f) return undefined;
  const problem = fileProblem(f, o.owner.uid);
  if (problem) throw homeError(problem, o.label, f, o.owner.uid);
  return f;
}

export interface WriteOptions extends FileOptions {
  mode: number;
  /**
   * What the entry must still be (the file read earlier, or null for "absent"): anything else means
   * someone changed it meanwhile, and it is left alone.
   */
  expect?: Facts | null;
}

/** Gives the temp file kubeusers wrote (and only that very file) to the account. */
async function chownHeld(dir: FileHandle, tmp: string, written: Facts, o: WriteOptions): Promise<void> {
  const held = await open(at(dir, tmp), C.O_RDONLY | C.O_NOFOLLOW);
  try {
    // The account can rename entries in its directory: only the very file written is chowned.
    const f = factsOf(await held.stat());
    const same = f.dev === written.dev && f.ino === written.ino && f.born === written.born;
    if (!same || f.nlink !== 1 || f.uid !== self()) throw homeError('raced', o.label);
    await held.chown(o.owner.uid, o.owner.gid);
    await held.chmod(o.mode);
  } finally {
    await held.close();
  }
}

/** A temp file written and synced beside `name`, not yet in place. */
export interface Staged {
  /** Chowns it if that was held back, checks `name` once more, and renames it into place. */
  commit(): Promise<void>;
  /** Removes it (after a failure elsewhere). */
  discard(): Promise<void>;
}

export interface StageOptions extends WriteOptions {
  /**
   * Keep the temp file kubeusers' own (0600) until commit: a key whose certificate is not in place
   * yet is readable by nobody else, even if the process dies here.
   */
  chownOnCommit?: boolean;
  /**
   * Write through the fixed temp name `.<name>.kubeusers-new` instead of a random one: for a file in
   * a directory too large to list for orphans (the home itself), a leftover is found by its name.
   */
  fixedTemp?: boolean;
}

const EXCL = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

/** Creates the temp file; a leftover under a fixed temp name is removed first if it is kubeusers' own. */
async function createTemp(dir: FileHandle, tmp: string, o: StageOptions): Promise<FileHandle> {
  try {
    return await open(at(dir, tmp), EXCL, 0o600);
  } catch (err) {
    if (!o.fixedTemp || code(err) !== 'EEXIST') throw err;
  }
  const f = await factsIn(dir, tmp);
  if (f && !orphanRemovable(f, o.owner.uid, self()))
    throw homeError('raced', `${o.label} (its temp name ${tmp})`);
  await unlink(at(dir, tmp)).catch((err: unknown) => {
    if (code(err) !== 'ENOENT') throw err;
  });
  return open(at(dir, tmp), EXCL, 0o600);
}

/**
 * Writes `data` to a fresh temp file in `dir` (O_EXCL, never through a link), fsyncs it, and leaves it
 * there for commit. The old entry is checked now and again in commit: only a file of the account (or
 * root) with one name is replaced.
 */
export async function stageFile(
  dir: FileHandle,
  name: string,
  data: string,
  o: StageOptions,
): Promise<Staged> {
  const before = await checkReplaceable(dir, name, o);
  if (o.expect !== undefined && !sameEntry(o.expect ?? undefined, before)) throw homeError('raced', o.label);
  const tmp = o.fixedTemp ? tempDirName(name) : tempFileName(name);
  const discard = (): Promise<void> => unlink(at(dir, tmp)).catch(() => undefined);
  const fh = await createTemp(dir, tmp, o);
  let written: Facts;
  try {
    written = factsOf(await fh.stat());
    await fh.writeFile(data, 'utf8');
    if (!o.chownOnCommit) {
      await fh.chown(o.owner.uid, o.owner.gid);
      await fh.chmod(o.mode);
    }
    await fh.sync();
  } catch (err) {
    await fh.close();
    await discard();
    throw err;
  }
  const commit = async (): Promise<void> => {
    try {
      if (o.chownOnCommit) await chownHeld(dir, tmp, written, o);
      await o.hooks?.at?.('temp-written', name);
      const now = await checkReplaceable(dir, name, o);
      if (!sameEntry(before, now)) throw homeError('raced', o.label);
      await rename(at(dir, tmp), at(dir, name));
    } catch (err) {
      await discard();
      throw err;
    }
    await dir.sync();
  };
  await fh.close();
  return { commit, discard };
}

/**
 * Writes `name` inside `dir` atomically: a fresh temp file in the same directory, fsync,
 * chown/chmod, then rename over the old one. A reader sees the old file or the new, never a mix.
 * The old entry is checked before and again right before the rename: only a file of the account (or
 * root) with one name is replaced. Between that last check and the rename someone may still swap the
 * entry; the rename then drops that name, never reading or writing the file behind it.
 */
export async function writeFileAtomic(
  dir: FileHandle,
  name: string,
  data: string,
  o: WriteOptions & Pick<StageOptions, 'fixedTemp'>,
): Promise<void> {
  await (await stageFile(dir, name, data, o)).commit();
}

/** Removes `name` inside `dir` if it is a file the account (or root) owns with one name. */
export async function removeFileIn(dir: FileHandle, name: string, o: FileOptions): Promise<boolean> {
  if (!(await checkReplaceable(dir, name, o))) return false;
  await o.hooks?.at?.('file-checked', name);
  try {
    await unlink(at(dir, name));
    return true;
  } catch (err) {
    if (code(err) === 'ENOENT') return false;
    throw err;
  }
}
