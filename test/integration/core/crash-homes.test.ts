// Issue 14, point 1: what a crash leaves in a home, and what a later `sync --once` makes of it. Each
// case plants the debris an interrupted issuance leaves (a directory made but never chowned, temp
// files with a key in them) or a fault that keeps an account without credentials, then runs the real
// CLI twice: the debris of kubeusers' own is repaired or removed, anything else is left alone, and the
// exit code is 3 (with the account and its reason on stderr) as long as an account has no credential.
import {
  appendFileSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl, testEnv } from '../../env/index.ts';
import { cli, kubeconfigOf, scenario, type CliResult, type Scenario } from '../support.ts';

let s: Scenario;

beforeAll(async () => {
  s = await scenario('ch');
});

interface Tool {
  name: string;
  uid: number;
  home: string;
}

interface Case {
  name: string;
  uid: number;
  /** What was left in the home (or the homes root) before the first sync. */
  plant: (t: Tool) => void;
  /** Whether the account ends with working credentials. */
  served: boolean;
  /** Entries (relative to the home) that must still be there, untouched, after both syncs. */
  kept?: string[];
  /** Entries (relative to the home) that must be gone. */
  removed?: string[];
}

const rootDir = (path: string): void => {
  mkdirSync(path, { mode: 0o700 });
};
const toolHome = (t: Tool): void => {
  mkdirSync(t.home, { mode: 0o2775 });
  chownSync(t.home, t.uid, t.uid);
};
const ownedBy = (path: string, uid: number): void => chownSync(path, uid, uid);
const orphanKey = `.client.key.kubeusers-${'0'.repeat(8)}-1111-4222-8333-${'4'.repeat(12)}`;
const orphanConfig = `.config.kubeusers-${'5'.repeat(8)}-6666-4777-8888-${'9'.repeat(12)}`;
const orphanCert = `.client.crt.kubeusers-${'a'.repeat(8)}-bbbb-4ccc-8ddd-${'e'.repeat(12)}`;

const cases: Case[] = [
  {
    name: 'a home left root-owned and empty by a crash between mkdir and chown is adopted',
    uid: 76_901,
    plant: (t) => rootDir(t.home),
    served: true,
  },
  {
    name: 'a .toolskube left root-owned and empty is adopted',
    uid: 76_902,
    plant: (t) => {
      toolHome(t);
      rootDir(join(t.home, '.toolskube'));
    },
    served: true,
  },
  {
    name: 'a .kube left root-owned and empty is adopted',
    uid: 76_903,
    plant: (t) => {
      toolHome(t);
      rootDir(join(t.home, '.kube'));
    },
    served: true,
  },
  {
    name: "orphan temp files of kubeusers' own are removed, look-alikes and links are left",
    uid: 76_904,
    plant: (t) => {
      toolHome(t);
      for (const d of ['.toolskube', '.kube']) {
        mkdirSync(join(t.home, d), { mode: 0o700 });
        ownedBy(join(t.home, d), t.uid);
      }
      // A key of a certificate never delivered, still root's; a kubeconfig temp already chowned.
      writeFileSync(join(t.home, '.toolskube', orphanKey), 'not a real key\n', { mode: 0o600 });
      writeFileSync(join(t.home, '.kube', orphanConfig), 'apiVersion: v1\n', { mode: 0o600 });
      ownedBy(join(t.home, '.kube', orphanConfig), t.uid);
      // The tool's own entries that only look like kubeusers' temp files.
      symlinkSync('/etc/hostname', join(t.home, '.toolskube', orphanCert));
      writeFileSync(join(t.home, '.toolskube', '.client.key.kubeusers-mine'), 'mine\n');
      ownedBy(join(t.home, '.toolskube', '.client.key.kubeusers-mine'), t.uid);
    },
    served: true,
    removed: [join('.toolskube', orphanKey), join('.kube', orphanConfig)],
    kept: [join('.toolskube', orphanCert), join('.toolskube', '.client.key.kubeusers-mine')],
  },
  {
    name: 'a root-owned .toolskube with something in it is not adopted: no credentials, exit 3',
    uid: 76_905,
    plant: (t) => {
      toolHome(t);
      rootDir(join(t.home, '.toolskube'));
      writeFileSync(join(t.home, '.toolskube', 'notes'), 'root wrote this\n');
    },
    served: false,
    kept: [join('.toolskube', 'notes')],
  },
  {
    name: 'a .toolskube of another uid: the account backs off, and every run says so with exit 3',
    uid: 76_906,
    plant: (t) => {
      toolHome(t);
      rootDir(join(t.home, '.toolskube'));
      ownedBy(join(t.home, '.toolskube'), 76_999);
    },
    served: false,
  },
];

const toolOf = (c: Case): Tool => {
  const name = `h${c.uid}`;
  return { name, uid: c.uid, home: join(s.homesRoot, name) };
};

/** `sync --once`; what it wrote goes where the global teardown scans logs for secrets. */
async function sync(): Promise<CliResult> {
  const r = await cli(['--config', s.configFile, 'sync', '--once']);
  appendFileSync(join(testEnv().dir, `kubeusers-crash-homes-${process.pid}.log`), r.stdout + r.stderr);
  return r;
}

/** Every entry of the homes root that is not a home (a temp directory of kubeusers' own). */
const strays = (): string[] => readdirSync(s.homesRoot).filter((n) => n.startsWith('.'));

describe('a later sync and the debris of a crash', () => {
  let first: CliResult;
  let second: CliResult;

  beforeAll(async () => {
    for (const c of cases) {
      const t = toolOf(c);
      c.plant(t);
      await s.dir.addTool({ name: t.name, uidNumber: t.uid });
    }
    first = await sync();
    // The second run sees the failed accounts inside their backoff: it must not call that success.
    second = await sync();
  }, 180_000);

  it.each(cases)('$name', async (c) => {
    const t = toolOf(c);
    for (const rel of c.removed ?? [])
      expect({ rel, exists: existsSync(join(t.home, rel)) }).toEqual({ rel, exists: false });
    for (const rel of c.kept ?? [])
      expect({
        rel,
        exists: lstatSync(join(t.home, rel)).isFile() || lstatSync(join(t.home, rel)).isSymbolicLink(),
      }).toEqual({ rel, exists: true });
    if (c.served) {
      for (const rel of [
        '',
        '.kube',
        '.toolskube',
        '.toolskube/client.key',
        '.toolskube/client.crt',
        '.kube/config',
      ])
        expect({ rel, uid: lstatSync(join(t.home, rel)).uid }).toEqual({ rel, uid: t.uid });
      expect((await kubectl(kubeconfigOf(t.home), ['get', 'configmaps'])).code).toBe(0);
      for (const run of [first, second]) expect(run.stderr).not.toContain(`tool/${t.name}`);
    } else {
      for (const [run, r] of [first, second].entries()) {
        const named = new RegExp(`tool/${t.name}: .*(uid|left alone)`).test(r.stderr);
        expect({ run, code: r.code, named }).toEqual({ run, code: 3, named: true });
      }
    }
  });

  it('leaves no temp directory in the homes root', () => {
    expect(strays()).toEqual([]);
  });
});
