import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ToolSpec } from '../../env/ldif.ts';
import { scenario, type Scenario } from '../support.ts';

let s: Scenario;
const outside = mkdtempSync(join(tmpdir(), 'kubeusers-outside-'));
afterAll(() => rmSync(outside, { recursive: true, force: true }));

const bad: [string, ToolSpec, string, RegExp][] = [
  [
    'a name that is not a DNS label',
    { name: 'Bad_Name', uidNumber: 55_001 },
    'invalid-name',
    /"Bad_Name" is not a DNS-1123 label/,
  ],
  [
    'a name longer than 54 characters',
    { name: 'x'.repeat(55), uidNumber: 55_002 },
    'name-too-long',
    /longer than 54/,
  ],
  [
    'a missing uidNumber',
    { name: 'nouid', uidNumber: 55_003, uidNumberAttr: null },
    'missing-uid-number',
    /"nouid" has no valid uidNumber/,
  ],
  [
    'a missing homeDirectory',
    { name: 'nohome', uidNumber: 55_004, homeDirectory: null },
    'missing-home',
    /"nohome" has no homeDirectory/,
  ],
  [
    'a home outside the homes root',
    { name: 'outside', uidNumber: 55_005, homeDirectory: '/etc' },
    'home-outside-root',
    /home \/etc outside/,
  ],
  [
    'a duplicate uid number',
    { name: 'dup-a', uidNumber: 55_006 },
    'duplicate-uid',
    /shares its name or uid number/,
  ],
  ['its duplicate', { name: 'dup-b', uidNumber: 55_006 }, 'duplicate-uid', /shares its name or uid number/],
];

beforeAll(async () => {
  // A private slapd: the malformed entries are loaded with slapadd, as a broken import would leave them.
  const good = [
    { name: 'good-one', uidNumber: 55_010 },
    { name: 'good-two', uidNumber: 55_011 },
  ];
  s = await scenario('ho', {}, { ownLdap: { tools: [...bad.map((b) => b[1]), ...good] } });
});

afterAll(() => s.ldap?.stop());

describe('bad directory entries', () => {
  let result: Awaited<ReturnType<Scenario['sync']>>;

  beforeAll(async () => {
    result = await s.sync();
  });

  it.each(bad)('skips %s with a clear message', (_, tool, reason, message) => {
    const mine = result.skipped.filter((x) => x.dn.startsWith(`cn=ho.${tool.name},`));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ kind: 'tool', reason });
    expect(mine[0]?.message).toMatch(message);
  });

  it('provisions the rest', () => {
    expect(result.failures).toEqual([]);
    expect(result.done).toContain('tool/good-one: adopt the certificate in the home, or issue one');
    expect(result.done).toContain('tool/good-two: adopt the certificate in the home, or issue one');
  });

  it('never removes a skipped account that was provisioned before', async () => {
    await s.dir.addTool({ name: 'later-bad', uidNumber: 55_200 });
    await s.sync();
    await s.dir.replaceAttribute(s.dir.toolDn('later-bad'), 'homeDirectory', ['/somewhere/else']);
    const result = await s.sync();
    expect(result.skipped.map((x) => x.name)).toContain('later-bad');
    expect(result.done.filter((d) => d.startsWith('tool/later-bad'))).toEqual([]);
  });
});

describe('symlinks in a home', () => {
  const cases: [string, (home: string, uid: number) => void][] = [
    ['the home itself', (home) => symlinkSync(outside, home)],
    ['.kube', (home, uid) => mkdirOwned(home, uid, () => symlinkSync(outside, join(home, '.kube')))],
    [
      '.toolskube',
      (home, uid) => mkdirOwned(home, uid, () => symlinkSync(outside, join(home, '.toolskube'))),
    ],
    [
      '.kube/config',
      (home, uid) =>
        mkdirOwned(home, uid, () => {
          mkdirSync(join(home, '.kube'));
          chownSync(join(home, '.kube'), uid, uid);
          symlinkSync(outside, join(home, '.kube', 'config'));
        }),
    ],
    [
      '.toolskube/client.key',
      (home, uid) =>
        mkdirOwned(home, uid, () => {
          mkdirSync(join(home, '.toolskube'));
          chownSync(join(home, '.toolskube'), uid, uid);
          symlinkSync(join(outside, 'stolen.key'), join(home, '.toolskube', 'client.key'));
        }),
    ],
  ];

  function mkdirOwned(home: string, uid: number, then: () => void): void {
    mkdirSync(home);
    chownSync(home, uid, uid);
    then();
  }

  it.each(cases)(
    'through %s: nothing is written outside and the account is reported',
    async (label, plant) => {
      const name = `sym-${cases.findIndex((c) => c[0] === label)}`;
      const uid = 55_300 + cases.findIndex((c) => c[0] === label);
      plant(join(s.homesRoot, name), uid);
      await s.dir.addTool({ name, uidNumber: uid });
      const result = await s.sync({ only: new Set([`tool/${name}`]) });
      expect(readdirSync(outside)).toEqual([]);
      expect(result.failures).toEqual([{ account: `tool/${name}`, error: expect.stringMatching(/symlink/) }]);
    },
  );

  it('refuses a home owned by someone else', async () => {
    const home = join(s.homesRoot, 'foreign');
    mkdirSync(home);
    chownSync(home, 12_345, 12_345);
    await s.dir.addTool({ name: 'foreign', uidNumber: 55_400 });
    const result = await s.sync({ only: new Set(['tool/foreign']) });
    expect(result.failures[0]?.error).toMatch(/belongs to uid 12345, not 55400/);
    expect(existsSync(join(home, '.kube'))).toBe(false);
  });

  it('refuses a FIFO planted as the kubeconfig without hanging', async () => {
    const home = join(s.homesRoot, 'fifo');
    mkdirSync(join(home, '.kube'), { recursive: true });
    chownSync(home, 55_500, 55_500);
    chownSync(join(home, '.kube'), 55_500, 55_500);
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [join(home, '.kube', 'config')]);
    await s.dir.addTool({ name: 'fifo', uidNumber: 55_500 });
    const result = await s.sync({ only: new Set(['tool/fifo']) });
    expect(result.failures[0]?.error).toMatch(/not a regular file/);
  });
});
