// Files that change under a running daemon: a rotated bind password, a renewed serving certificate,
// a new client CA bundle. They are read again when their directory reports a change, on a slow poll
// in case no event ever comes (NFS delivers none for changes made elsewhere), and whenever a caller
// asks after a failure. A Kubernetes secret volume replaces its files by renaming `..data` over a
// new directory: a watch on the file (its inode) would go deaf, so the watch is on the directories
// that hold the configured name and its resolved target. Contents are compared by digest and never
// logged.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log.ts';
import { ConfigError, parseCaBundle } from './load.ts';

/** What a fresh read of the files means for the value in use. */
export type ReloadDecision =
  | { action: 'unchanged' }
  | { action: 'take' }
  /** New content that does not parse (half written, key and certificate not matching yet). */
  | { action: 'refuse'; log: boolean };

export interface ReloadInput {
  /** Digest of the contents in use. */
  inUse: string;
  /** Digest of what was read now. */
  read: string;
  /** Whether what was read parses. */
  valid: boolean;
  /** Digest of the last contents refused, so that one bad state is said once, not on every poll. */
  lastRefused: string | undefined;
}

/** The same contents change nothing; new ones are taken if they parse, else refused (said once). */
export function decideReload(i: ReloadInput): ReloadDecision {
  if (i.read === i.inUse) return { action: 'unchanged' };
  if (i.valid) return { action: 'take' };
  return { action: 'refuse', log: i.read !== i.lastRefused };
}

export interface WatchedFilesOptions<T> {
  /** The files as configured (one value is made from all of them: a certificate and its key). */
  files: string[];
  /** The setting's name, for log lines and errors. */
  setting: string;
  /** Makes the value from the files' texts; throws a ConfigError when they are not usable. */
  parse: (texts: string[]) => T;
  log: Logger;
  /** Called with every new value taken (not the first). */
  onChange?: (value: T) => void;
  /** The slow poll; 0 turns it off. */
  pollMs?: number;
  /** Events come in bursts (a secret volume update is several renames): wait this long for quiet. */
  settleMs?: number;
}

const DEFAULT_POLL_MS = 60_000;
const DEFAULT_SETTLE_MS = 100;

function digestOf(texts: string[]): string {
  const h = createHash('sha256');
  for (const t of texts) h.update(`${t.length}:`).update(t);
  return h.digest('hex');
}

async function readAll(files: string[], setting: string): Promise<string[]> {
  return Promise.all(
    files.map((f) =>
      readFile(f, 'utf8').catch((err: unknown) => {
        throw new ConfigError(
          `cannot read ${setting} ${f}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
          {
            cause: err,
          },
        );
      }),
    ),
  );
}

/**
 * A value made from files, kept current. `open` reads it once (an unusable file is a ConfigError
 * before anything starts); after that a bad read keeps the value in use and says why, once.
 * Watchers and the poll timer never keep the process alive (one-shot commands exit as before).
 */
export class WatchedFiles<T> {
  readonly #o: WatchedFilesOptions<T>;
  #value: T;
  #digest: string;
  #lastRefused: string | undefined;
  readonly #watchers = new Map<string, FSWatcher>();
  #settle: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #chain: Promise<boolean> = Promise.resolve(false);
  #closed = false;

  private constructor(o: WatchedFilesOptions<T>, value: T, digest: string) {
    this.#o = o;
    this.#value = value;
    this.#digest = digest;
  }

  static async open<T>(o: WatchedFilesOptions<T>): Promise<WatchedFiles<T>> {
    const texts = await readAll(o.files, o.setting);
    const w = new WatchedFiles(o, o.parse(texts), digestOf(texts));
    await w.#rewatch();
    const pollMs = o.pollMs ?? DEFAULT_POLL_MS;
    if (pollMs > 0) {
      w.#poll = setInterval(() => void w.refresh(), pollMs);
      w.#poll.unref();
    }
    return w;
  }

  /** The value in use. */
  current(): T {
    return this.#value;
  }

  /** Reads the files now; resolves true when a new value was taken. Never rejects. */
  refresh(): Promise<boolean> {
    this.#chain = this.#chain.then(() => this.#refresh());
    return this.#chain;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#settle);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  async #refresh(): Promise<boolean> {
    if (this.#closed) return false;
    const { setting, files, log } = this.#o;
    let texts: string[];
    try {
      texts = await readAll(files, setting);
    } catch {
      // A file missing for a moment (renamed away, not yet back) or for good (the process is being
      // torn down): the value in use stays, and nothing is said; a lasting problem shows where the
      // value is used (a refused bind, a failed handshake).
      await this.#rewatch();
      return false;
    }
    const read = digestOf(texts);
    let parsed: { value: T } | { error: Error } | undefined;
    if (read !== this.#digest) {
      try {
        parsed = { value: this.#o.parse(texts) };
      } catch (err) {
        parsed = { error: err as Error };
      }
    }
    const d = decideReload({
      inUse: this.#digest,
      read,
      valid: parsed !== undefined && 'value' in parsed,
      lastRefused: this.#lastRefused,
    });
    await this.#rewatch();
    if (d.action === 'unchanged') return false;
    if (d.action === 'refuse') {
      this.#lastRefused = read;
      if (d.log)
        log.warn(
          { action: 'reload', setting, files, err: parsed && 'error' in parsed ? parsed.error.message : '' },
          `${setting} changed but cannot be used yet; the previous one stays in use`,
        );
      return false;
    }
    this.#value = (parsed as { value: T }).value;
    this.#digest = read;
    this.#lastRefused = undefined;
    log.info({ action: 'reload', setting, files }, `${setting} changed on disk: re-read, in use now`);
    this.#o.onChange?.(this.#value);
    return true;
  }

  /** Watches the directory of each configured name and of what it resolves to now. */
  async #rewatch(): Promise<void> {
    if (this.#closed) return;
    const dirs = new Set<string>();
    for (const f of this.#o.files) {
      dirs.add(dirname(f));
      const real = await realpath(f).catch(() => undefined);
      if (real !== undefined) dirs.add(dirname(real));
    }
    for (const [dir, w] of this.#watchers) {
      if (!dirs.has(dir)) {
        w.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.#soon());
        w.on('error', () => {
          w.close();
          if (this.#watchers.get(dir) === w) this.#watchers.delete(dir);
          this.#soon();
        });
        this.#watchers.set(dir, w);
      } catch {
        // The directory is gone for now; the poll and the next refresh look again.
      }
    }
  }

  #soon(): void {
    if (this.#closed) return;
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => void this.refresh(), this.#o.settleMs ?? DEFAULT_SETTLE_MS);
    this.#settle.unref();
  }
}

/** A PEM bundle of CA certificates kept current; `setting` names it in log lines and errors. */
export function watchedCaBundle(
  file: string,
  setting: string,
  log: Logger,
  onChange?: (pem: string) => void,
): Promise<WatchedFiles<string>> {
  return WatchedFiles.open({
    files: [file],
    setting,
    parse: ([text]) => parseCaBundle(text!, file, setting),
    log,
    ...(onChange ? { onChange } : {}),
  });
}
