// The home-directory boundary: credentials, kubeconfig and the disabled flag, written safely.
import { posix } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import type { Account } from '../directory/account.ts';
import { mergeKubeconfig, type KubeconfigEntry } from './kubeconfig.ts';
import {
  entryType,
  HomeError,
  openDir,
  openOrCreateDir,
  readFileIn,
  removeFileIn,
  writeFileAtomic,
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
  /** Writes key, certificate and merges ~/.kube/config. Throws HomeError for anything it refuses. */
  writeCredentials(
    account: Account,
    creds: Credentials,
    kubeconfig: Omit<KubeconfigEntry, 'certPath' | 'keyPath'>,
    point?: (name: string) => void,
  ): Promise<void>;
  setDisabledFlag(account: Account, disabled: boolean, message: string): Promise<void>;
}

export const CERT_FILE = 'client.crt';
export const KEY_FILE = 'client.key';

export class SafeHomes implements Homes {
  readonly #layouts: Record<Account['kind'], HomeLayout>;

  constructor(layouts: Record<Account['kind'], HomeLayout>) {
    this.#layouts = layouts;
  }

  /** Opens (creating if missing, setgid, owned by the account) the account's home. */
  async #openHome(account: Account, create: boolean): Promise<FileHandle | undefined> {
    const layout = this.#layouts[account.kind];
    const rel = posix.relative(layout.root, account.home);
    if (rel === '' || rel.startsWith('..') || posix.isAbsolute(rel)) {
      throw new HomeError(`home ${account.home} is outside ${layout.root}`, 'not-a-directory');
    }
    const owner = ownerOf(account);
    let dir = await openDir(layout.root);
    const parts = rel.split('/');
    try {
      for (const [i, part] of parts.entries()) {
        const last = i === parts.length - 1;
        if (!last) {
          const next = await openOrCreateDir(
            dir,
            part,
            { uid: 0, gid: 0 },
            0o755,
            posix.join(layout.root, ...parts.slice(0, i + 1)),
          );
          await dir.close();
          dir = next;
          continue;
        }
        if (!create && (await entryType(dir, part)) === 'absent') {
          await dir.close();
          return undefined;
        }
        const home = await openOrCreateDir(dir, part, owner, 0o2775, account.home);
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
      if ((await entryType(home, layout.credentialsDir)) === 'absent') return {};
      const dir = await openOrCreateDir(
        home,
        layout.credentialsDir,
        ownerOf(account),
        0o700,
        posix.join(account.home, layout.credentialsDir),
      );
      try {
        const label = (f: string): string => posix.join(account.home, layout.credentialsDir, f);
        const certPem = await readFileIn(dir, CERT_FILE, label(CERT_FILE));
        const keyPem = await readFileIn(dir, KEY_FILE, label(KEY_FILE));
        return { ...(certPem ? { certPem } : {}), ...(keyPem ? { keyPem } : {}) };
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
  ): Promise<void> {
    const layout = this.#layouts[account.kind];
    const owner = ownerOf(account);
    const home = (await this.#openHome(account, true))!;
    try {
      const kube = await openOrCreateDir(home, '.kube', owner, 0o700, posix.join(account.home, '.kube'));
      try {
        // Read and merge first: an unparsable config stops the write before any file changes.
        const configLabel = posix.join(account.home, '.kube', 'config');
        const existing = await readFileIn(kube, 'config', configLabel);
        const merged = mergeKubeconfig(existing, {
          ...kc,
          certPath: `../${layout.credentialsDir}/${CERT_FILE}`,
          keyPath: `../${layout.credentialsDir}/${KEY_FILE}`,
        });
        if ('error' in merged)
          throw new HomeError(`${configLabel} is left as it was: ${merged.error}`, 'unparsable');
        const creds_ = await openOrCreateDir(
          home,
          layout.credentialsDir,
          owner,
          0o700,
          posix.join(account.home, layout.credentialsDir),
        );
        try {
          const label = (f: string): string => posix.join(account.home, layout.credentialsDir, f);
          // Key before certificate: a reader pairing them by name may briefly see a new key with the
          // old certificate, never a certificate without its key on disk.
          await writeFileAtomic(creds_, KEY_FILE, creds.keyPem, {
            owner,
            mode: 0o600,
            label: label(KEY_FILE),
          });
          point?.('key-written');
          await writeFileAtomic(creds_, CERT_FILE, creds.certPem, {
            owner,
            mode: 0o644,
            label: label(CERT_FILE),
          });
        } finally {
          await creds_.close();
        }
        point?.('cert-written');
        await writeFileAtomic(kube, 'config', merged.ok, { owner, mode: 0o600, label: configLabel });
      } finally {
        await kube.close();
      }
    } finally {
      await home.close();
    }
  }

  async setDisabledFlag(account: Account, disabled: boolean, message: string): Promise<void> {
    const layout = this.#layouts[account.kind];
    const home = await this.#openHome(account, false);
    if (!home) return;
    try {
      if (disabled) {
        const owner = ownerOf(account);
        await writeFileAtomic(home, layout.disabledFlag, `${message}\n`, {
          owner,
          mode: 0o644,
          label: posix.join(account.home, layout.disabledFlag),
        });
      } else {
        await removeFileIn(home, layout.disabledFlag);
      }
    } finally {
      await home.close();
    }
  }
}

function ownerOf(account: Account): Owner {
  return { uid: account.uidNumber, gid: account.gidNumber };
}
