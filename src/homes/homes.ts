// The home-directory boundary: credentials, kubeconfig and the disabled flag, written safely.
import { posix } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import type { Account } from '../model/account.ts';
import { mergeKubeconfig, type KubeconfigEntry } from './kubeconfig.ts';
import {
  factsIn,
  HomeError,
  openDir,
  openOrCreateDir,
  readFileIn,
  removeFileIn,
  removeOrphans,
  stageFile,
  writeFileAtomic,
  type DirOptions,
  type Facts,
  type FileOptions,
  type Hooks,
  type Owner,
} from './safe-fs.ts';

export interface Credentials {
  certPem: string;
  keyPem: string;
}

export interface HomeLayout {
  /** Where homes of this kind must live (trusted; configured by the operator). */
  root: string;
  credentialsDir: string;
  disabledFlag: string;
}

export interface Homes {
  readCredentials(account: Account): Promise<Partial<Credentials>>;
  /**
   * Writes key and certificate (throws a HomeError when it cannot) and merges ~/.kube/config where
   * that is safe. Returns what it left alone: a kubeconfig it may not read or replace does not stop
   * the account's own credentials from being delivered.
   */
  writeCredentials(
    account: Account,
    creds: Credentials,
    kubeconfig: Omit<KubeconfigEntry, 'certPath' | 'keyPath'>,
    point?: (name: string) => void,
  ): Promise<HomeError[]>;
  setDisabledFlag(account: Account, disabled: boolean, message: string): Promise<void>;
}

/** Where removed orphans are told (a logger's info). */
export type OrphanLog = (
  fields: { account: string; kind: Account['kind']; removed: string[] },
  msg: string,
) => void;

export const CERT_FILE = 'client.crt';
export const KEY_FILE = 'client.key';

/** The merged kubeconfig, ready to replace the one read (or to be created), or why it is left alone. */
type ConfigPlan = { kube: FileHandle; text: string; expect: Facts | null } | { left: HomeError };

export class SafeHomes implements Homes {
  readonly #layouts: Record<Account['kind'], HomeLayout>;
  readonly #hooks: Hooks | undefined;
  readonly #orphans: OrphanLog | undefined;

  /** `hooks` lets tests act between a check and the step it guards. */
  constructor(layouts: Record<Account['kind'], HomeLayout>, hooks?: Hooks, orphans?: OrphanLog) {
    this.#layouts = layouts;
    this.#hooks = hooks;
    this.#orphans = orphans;
  }

  /** Removes what interrupted writes left in `dir`, and tells. */
  async #removeOrphans(dir: FileHandle, account: Account, label: string): Promise<void> {
    const removed = await removeOrphans(dir, this.#file(account, label));
    if (removed.length === 0) return;
    this.#orphans?.(
      { account: account.name, kind: account.kind, removed: removed.map((r) => posix.join(label, r)) },
      'removed temp files an interrupted write left',
    );
  }

  #dir(owner: Owner, mode: number, label: string): DirOptions {
    return { owner, mode, label, ...(this.#hooks ? { hooks: this.#hooks } : {}) };
  }

  #file(account: Account, label: string): FileOptions {
    return { owner: ownerOf(account), label, ...(this.#hooks ? { hooks: this.#hooks } : {}) };
  }

  /** Opens (creating if missing, setgid, owned by the account) the account's home. */
  async #openHome(account: Account, create: boolean): Promise<FileHandle | undefined> {
    const layout = this.#layouts[account.kind];
    const rel = posix.relative(layout.root, account.home);
    if (rel === '' || rel.startsWith('..') || posix.isAbsolute(rel)) {
      throw new HomeError(`home ${account.home} is outside ${layout.root}`, 'not-a-directory');
    }
    let dir = await openDir(layout.root);
    const parts = rel.split('/');
    try {
      for (const [i, part] of parts.entries()) {
        const label = posix.join(layout.root, ...parts.slice(0, i + 1));
        if (i < parts.length - 1) {
          const next = await openOrCreateDir(dir, part, this.#dir({ uid: 0, gid: 0 }, 0o755, label));
          await dir.close();
          dir = next;
          continue;
        }
        if (!create && !(await factsIn(dir, part))) {
          await dir.close();
          return undefined;
        }
        const home = await openOrCreateDir(dir, part, this.#dir(ownerOf(account), 0o2775, account.home));
        await dir.close();
        return home;
      }
    } catch (err) {
      await dir.close();
      throw err;
    }
    return undefined;
  }

  async readCredentials(account: Account): Promise<Partial<Credentials>> {
    const home = await this.#openHome(account, false);
    if (!home) return {};
    try {
      const layout = this.#layouts[account.kind];
      if (!(await factsIn(home, layout.credentialsDir))) return {};
      const label = (f?: string): string => posix.join(account.home, layout.credentialsDir, f ?? '');
      const dir = await openOrCreateDir(
        home,
        layout.credentialsDir,
        this.#dir(ownerOf(account), 0o700, label()),
      );
      try {
        const cert = await readFileIn(dir, CERT_FILE, this.#file(account, label(CERT_FILE)));
        const key = await readFileIn(dir, KEY_FILE, this.#file(account, label(KEY_FILE)));
        return { ...(cert ? { certPem: cert.text } : {}), ...(key ? { keyPem: key.text } : {}) };
      } finally {
        await dir.close();
      }
    } finally {
      await home.close();
    }
  }

  async writeCredentials(
    account: Account,
    creds: Credentials,
    kc: Omit<KubeconfigEntry, 'certPath' | 'keyPath'>,
    point?: (name: string) => void,
  ): Promise<HomeError[]> {
    const home = (await this.#openHome(account, true))!;
    try {
      // Read and merge first: the kubeconfig is only replaced if it was read whole and safely.
      const config = await this.#planKubeconfig(home, account, kc);
      try {
        await this.#writeKeyAndCert(home, account, creds, point);
        return 'left' in config ? [config.left] : await this.#replaceKubeconfig(config, account);
      } finally {
        if ('kube' in config) await config.kube.close();
      }
    } finally {
      await home.close();
    }
  }

  async #planKubeconfig(
    home: FileHandle,
    account: Account,
    kc: Omit<KubeconfigEntry, 'certPath' | 'keyPath'>,
  ): Promise<ConfigPlan> {
    const layout = this.#layouts[account.kind];
    const owner = ownerOf(account);
    const label = posix.join(account.home, '.kube', 'config');
    let kube: FileHandle;
    try {
      kube = await openOrCreateDir(home, '.kube', this.#dir(owner, 0o700, posix.join(account.home, '.kube')));
    } catch (err) {
      if (err instanceof HomeError) return { left: err };
      throw err;
    }
    try {
      await this.#removeOrphans(kube, account, posix.join(account.home, '.kube'));
      const existing = await readFileIn(kube, 'config', this.#file(account, label));
      const merged = mergeKubeconfig(existing?.text, {
        ...kc,
        certPath: `../${layout.credentialsDir}/${CERT_FILE}`,
        keyPath: `../${layout.credentialsDir}/${KEY_FILE}`,
      });
      if ('error' in merged) throw new HomeError(`${label} is left as it was: ${merged.error}`, 'unparsable');
      return { kube, text: merged.ok, expect: existing?.facts ?? null };
    } catch (err) {
      await kube.close();
      if (err instanceof HomeError) return { left: err };
      throw err;
    }
  }

  async #replaceKubeconfig(
    config: Exclude<ConfigPlan, { left: HomeError }>,
    account: Account,
  ): Promise<HomeError[]> {
    const label = posix.join(account.home, '.kube', 'config');
    try {
      await writeFileAtomic(config.kube, 'config', config.text, {
        ...this.#file(account, label),
        mode: 0o600,
        expect: config.expect,
      });
      return [];
    } catch (err) {
      if (err instanceof HomeError) return [err];
      throw err;
    }
  }

  async #writeKeyAndCert(
    home: FileHandle,
    account: Account,
    creds: Credentials,
    point?: (name: string) => void,
  ): Promise<void> {
    const layout = this.#layouts[account.kind];
    const label = (f?: string): string => posix.join(account.home, layout.credentialsDir, f ?? '');
    const dir = await openOrCreateDir(
      home,
      layout.credentialsDir,
      this.#dir(ownerOf(account), 0o700, label()),
    );
    try {
      await this.#removeOrphans(dir, account, label());
      // The key stays kubeusers' own temp file until its certificate is in place: a crash in between
      // leaves a key nobody else can read, never a delivered key without its certificate. A reader
      // pairing the two by name may briefly see the new certificate with the old key.
      const key = await stageFile(dir, KEY_FILE, creds.keyPem, {
        ...this.#file(account, label(KEY_FILE)),
        mode: 0o600,
        chownOnCommit: true,
      });
      try {
        await writeFileAtomic(dir, CERT_FILE, creds.certPem, {
          ...this.#file(account, label(CERT_FILE)),
          mode: 0o644,
        });
      } catch (err) {
        await key.discard();
        throw err;
      }
      point?.('cert-written');
      await key.commit();
      point?.('key-written');
    } finally {
      await dir.close();
    }
  }

  async setDisabledFlag(account: Account, disabled: boolean, message: string): Promise<void> {
    const layout = this.#layouts[account.kind];
    const home = await this.#openHome(account, false);
    if (!home) return;
    try {
      const label = posix.join(account.home, layout.disabledFlag);
      if (disabled) {
        await writeFileAtomic(home, layout.disabledFlag, `${message}\n`, {
          ...this.#file(account, label),
          mode: 0o644,
          // The home may hold thousands of entries: a leftover temp is found by name, not by listing.
          fixedTemp: true,
        });
      } else {
        await removeFileIn(home, layout.disabledFlag, this.#file(account, label));
      }
    } finally {
      await home.close();
    }
  }
}

function ownerOf(account: Account): Owner {
  return { uid: account.uidNumber, gid: account.gidNumber };
}
