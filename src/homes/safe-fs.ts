// File operations anchored to directory handles, so that no path component is ever followed as a
// symlink: each directory is opened with O_NOFOLLOW and its children are reached through
// /proc/self/fd/<fd>/<name>, which Linux resolves to the opened directory itself (openat(2) for Node).
import { constants as C } from 'node:fs';
import { lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';

export type HomeProblem =
  'symlink' | 'foreign-owner' | 'not-a-directory' | 'not-a-file' | 'too-large' | 'unparsable';

export class HomeError extends Error {
  readonly reason: HomeProblem;

  constructor(message: string, reason: HomeProblem) {
    super(message);
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
  if (link) return new HomeError(`${label} is a symlink; nothing is written through it`, 'symlink');
  if (c === 'ENOTDIR') return new HomeError(`${label} is not a directory`, 'not-a-directory');
  return err as Error;
}

export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Opens `name` inside `parent` as a directory, creating it with `mode` and `owner` if missing.
 * An existing one must belong to `owner.uid`: nothing is written into someone else's directory.
 */
export async function openOrCreateDir(
  parent: FileHandle,
  name: string,
  owner: Owner,
  mode: number,
  label: string,
): Promise<FileHandle> {
  let created = false;
  try {
    await mkdir(at(parent, name), { mode: 0o700 });
    created = true;
  } catch (err) {
    if (code(err) !== 'EEXIST') throw err;
  }
  let dir: FileHandle;
  try {
    dir = await open(at(parent, name), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch (err) {
    throw await dirError(err, at(parent, name), label);
  }
  try {
    if (created) {
      await dir.chown(owner.uid, owner.gid);
      await dir.chmod(mode);
    } else {
      const st = await dir.stat();
      if (st.uid !== owner.uid) {
        throw new HomeError(
          `${label} belongs to uid ${st.uid}, not ${owner.uid}; nothing is written into it`,
          'foreign-owner',
        );
      }
    }
    return dir;
  } catch (err) {
    await dir.close();
    throw err;
  }
}

/** Reads a regular file inside `dir`; undefined when absent. Symlinks, FIFOs and huge files are refused. */
export async function readFileIn(dir: FileHandle, name: string, label: string): Promise<string | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(at(dir, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    if (code(err) === 'ELOOP') throw new HomeError(`${label} is a symlink; it is left alone`, 'symlink');
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new HomeError(`${label} is not a regular file; it is left alone`, 'not-a-file');
    if (st.size > MAX_READ)
      throw new HomeError(`${label} is larger than ${MAX_READ} bytes; it is left alone`, 'too-large');
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

export type EntryType = 'absent' | 'directory' | 'file' | 'symlink' | 'other';

export async function entryType(dir: FileHandle, name: string): Promise<EntryType> {
  try {
    const st = await lstat(at(dir, name));
    if (st.isSymbolicLink()) return 'symlink';
    if (st.isDirectory()) return 'directory';
    return st.isFile() ? 'file' : 'other';
  } catch (err) {
    if (code(err) === 'ENOENT') return 'absent';
    throw err;
  }
}

/** True when `name` inside `dir` is a symlink (which kubeusers never replaces or writes through). */
export async function isSymlinkIn(dir: FileHandle, name: string): Promise<boolean> {
  try {
    return (await lstat(at(dir, name))).isSymbolicLink();
  } catch (err) {
    if (code(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Writes `name` inside `dir` atomically: a fresh temp file in the same directory, fsync,
 * chown/chmod, then rename over the old one. A reader sees the old file or the new, never a mix.
 */
export interface WriteOptions {
  owner: Owner;
  mode: number;
  /** How the file is named in errors. */
  label: string;
}

export async function writeFileAtomic(
  dir: FileHandle,
  name: string,
  data: string,
  { owner, mode, label }: WriteOptions,
): Promise<void> {
  if (await isSymlinkIn(dir, name))
    throw new HomeError(`${label} is a symlink; nothing is written through it`, 'symlink');
  const tmp = `.${name}.kubeusers-${globalThis.crypto.randomUUID()}`;
  const fh = await open(at(dir, tmp), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.chown(owner.uid, owner.gid);
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(at(dir, tmp)).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(at(dir, tmp), at(dir, name));
  } catch (err) {
    await unlink(at(dir, tmp)).catch(() => undefined);
    throw err;
  }
  await dir.sync();
}

export async function removeFileIn(dir: FileHandle, name: string): Promise<boolean> {
  try {
    await unlink(at(dir, name));
    return true;
  } catch (err) {
    if (code(err) === 'ENOENT') return false;
    throw err;
  }
}
