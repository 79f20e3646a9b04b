// Attacks on identity (issue 13, points 3, 4 and 7).
// Attacker: the tool editor, an LDAP account whose ACL lets it write tool entries and nothing else; a
// clock out of step with the signer's. Setup steps use the directory manager or kubeusers' own
// (setup) credentials, as said on each line.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  chownSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { Clock } from '../../../src/clock.ts';
import { buildApp } from '../../../src/main.ts';
import { makeLogger } from '../../../src/log.ts';
import { runSync } from '../../../src/reconcile/sync.ts';
import { certificateGroups } from '../../../src/cluster/issuer.ts';
import { epochGroup } from '../../../src/model/names.ts';
import { csrName } from '../../../src/model/names.ts';
import type { Account } from '../../../src/model/account.ts';
import { x509 } from '../../../src/pki/crypto.ts';
import { generateKey, importPrivateKeyPem, privateKeyPem, signingAlgorithm } from '../../../src/pki/keys.ts';
import type { DirectoryFixture } from '../../env/directory.ts';
import type { ToolSpec } from '../../env/ldif.ts';
import { kubectl, testEnv } from '../../env/index.ts';
import { cli, kubeconfigOf, scenario, type Scenario } from '../support.ts';
import { auditOffset, auditedSince, csrCreates } from '../../env/audit.ts';

const P = 'idn';
let s: Scenario;
let editor: DirectoryFixture;

/** kubeusers' own kubeconfig (the cluster admin's in this environment): setup and inspection only. */
function setupKubeconfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testEnv().kube.adminKubeconfig); // setup: admin credentials
  return kc;
}
const core = (): k8s.CoreV1Api => setupKubeconfig().makeApiClient(k8s.CoreV1Api);
const home = (name: string): string => join(s.homesRoot, name);
const ns = (name: string): string => `${P}-${name}`;

async function exists(read: () => Promise<unknown>): Promise<boolean> {
  return read().then(
    () => true,
    (err: unknown) => {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    },
  );
}

/** CSRs this installation created since `offset` of the apiserver's audit log, by name. */
const csrsCreatedSince = (offset: number): string[] =>
  csrCreates(auditedSince(offset, `kubeusers-${P}`)).map((e) => e.name ?? '?');

function metric(name: string, labels: Record<string, string>): Promise<number> {
  return s.app.metrics.registry
    .getSingleMetric(name)!
    .get()
    .then(
      (m) => m.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0,
    );
}

beforeAll(async () => {
  s = await scenario(P);
  editor = s.dir.asEditor();
  // setup (directory manager): two honest tools, provisioned before the attack.
  await s.dir.addTool({ name: 'victim', uidNumber: 57_001 });
  await s.dir.addTool({ name: 'turncoat', uidNumber: 57_002 });
  const first = await s.sync();
  expect(first.failures).toEqual([]);
});

describe("the tool editor's own limits", () => {
  const refused: [string, (d: DirectoryFixture) => Promise<unknown>][] = [
    ['the admin group', (d) => d.addToAdminGroup('mallory')],
    ['people', (d) => d.addUser({ user: 'mallory', uidNumber: 57_900 })],
  ];
  it.each(refused)('may not write %s (insufficientAccess)', async (_, write) => {
    await expect(write(editor)).rejects.toMatchObject({ code: 50 });
  });

  it('may write tool entries', async () => {
    await expect(editor.addTool({ name: 'honest-by-editor', uidNumber: 57_010 })).resolves.toBeDefined();
  });
});

// Each entry the editor adds, and the reason kubeusers must give for skipping it.
const hostile: [string, ToolSpec, string][] = [
  ['uidNumber 0', { name: 'root-uid', uidNumber: 0, gidNumber: 57_020 }, 'uid-number-too-low'],
  ['gidNumber 0', { name: 'root-gid', uidNumber: 57_021, gidNumber: 0 }, 'gid-number-too-low'],
  ['a system uidNumber (999)', { name: 'sys-uid', uidNumber: 999, gidNumber: 57_022 }, 'uid-number-too-low'],
  [
    'uid system:kube-controller-manager',
    { name: 'sneaky', uidNumber: 57_023, uid: 'system:kube-controller-manager' },
    'invalid-user-name',
  ],
  ['uid system:masters', { name: 'masters', uidNumber: 57_024, uid: 'system:masters' }, 'invalid-user-name'],
  [
    'uid system:node:worker-1',
    { name: 'node', uidNumber: 57_025, uid: 'system:node:worker-1' },
    'invalid-user-name',
  ],
  ["another tool's uid", { name: 'copycat', uidNumber: 57_026, uid: `${P}.victim` }, 'invalid-user-name'],
  ['a plain user name', { name: 'plain', uidNumber: 57_027, uid: 'kubernetes-admin' }, 'invalid-user-name'],
];

describe('hostile tool entries written by the tool editor', () => {
  let result: Awaited<ReturnType<Scenario['sync']>>;
  let csrs: string[];

  beforeAll(async () => {
    for (const [, spec] of hostile) await editor.addTool(spec);
    const offset = auditOffset();
    result = await s.sync();
    csrs = csrsCreatedSince(offset);
  });

  it.each(hostile)(
    'an entry with %s is skipped with its reason, in the result, log and metrics',
    async (_, spec, reason) => {
      expect(result.skipped.filter((x) => x.name === spec.name)).toEqual([
        expect.objectContaining({ kind: 'tool', reason }),
      ]);
      expect(
        s.logs.some(
          (l) =>
            l.includes('"action":"skip"') && l.includes(`"account":"${spec.name}"`) && l.includes(reason),
        ),
      ).toBe(true);
      expect(await metric('kubeusers_directory_skipped_entries', { kind: 'tool', reason })).toBeGreaterThan(
        0,
      );
    },
  );

  it.each(hostile)('an entry with %s gets no credential, CSR, namespace or state', async (_, spec) => {
    expect(result.done.filter((d) => d.startsWith(`tool/${spec.name}:`))).toEqual([]);
    expect(csrs).not.toContain(csrName('tool', spec.name));
    const files = existsSync(home(spec.name)) ? readdirSync(home(spec.name), { recursive: true }) : [];
    expect(files).toEqual([]);
    expect(await exists(() => core().readNamespace({ name: ns(spec.name) }))).toBe(false);
    expect(
      await exists(() =>
        core().readNamespacedConfigMap({ namespace: `kubeusers-${P}`, name: `state-tool-${spec.name}` }),
      ),
    ).toBe(false);
  });

  const gains: string[][] = [
    ['get', 'secrets', '--all-namespaces'],
    ['create', 'pods', '-n', ns('victim')],
    ['get', 'configmaps', '-n', ns('victim')],
    ['delete', 'namespaces'],
    ['impersonate', 'users'],
  ];
  it.each(hostile)('an entry with %s gains nothing in the cluster', async (_, spec) => {
    const kc = kubeconfigOf(home(spec.name));
    // Where a kubeconfig was written (the unfixed code writes one), it is the attacker's own means.
    if (!existsSync(kc)) return;
    const who = await kubectl(kc, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(`user: ${who.stdout}`).toBe(`user: ${P}.${spec.name}`);
    for (const args of gains) {
      const r = await kubectl(kc, ['auth', 'can-i', ...args]);
      expect(`${args.join(' ')}: ${r.stdout.trim()}`).toBe(`${args.join(' ')}: no`);
    }
  });

  it('leaves the honest tools as they were: the victim keeps its identity and namespace', async () => {
    expect(result.failures).toEqual([]);
    const who = await kubectl(kubeconfigOf(home('victim')), [
      'auth',
      'whoami',
      '-o',
      'jsonpath={.status.userInfo.username}',
    ]);
    expect(who.stdout).toBe(`${P}.victim`);
    expect(await exists(() => core().readNamespace({ name: ns('victim') }))).toBe(true);
    expect(result.done.filter((d) => d.startsWith('tool/honest-by-editor:'))).toContain(
      'tool/honest-by-editor: adopt the certificate in the home, or issue one',
    );
    // The audit check above sees the CSRs this installation creates.
    expect(csrs).toContain(csrName('tool', 'honest-by-editor'));
  });

  it('keeps a provisioned tool whose uidNumber the editor set to 0 as it was, and says why', async () => {
    await editor.replaceAttribute(s.dir.toolDn('turncoat'), 'uidNumber', ['0']);
    const r = await s.sync();
    expect(r.skipped.filter((x) => x.name === 'turncoat')).toEqual([
      expect.objectContaining({ reason: 'uid-number-too-low' }),
    ]);
    expect(r.done.filter((d) => d.startsWith('tool/turncoat:'))).toEqual([]);
    const state = await core().readNamespacedConfigMap({
      namespace: `kubeusers-${P}`,
      name: 'state-tool-turncoat',
    });
    expect(state.data?.uidNumber).toBe('57002');
    expect(await exists(() => core().readNamespace({ name: ns('turncoat') }))).toBe(true);
    expect(statSync(join(home('turncoat'), '.toolskube', 'client.key')).uid).toBe(57_002);
  });
});

// ----- point 7: certificates that are not valid yet -----

const HOUR = 3_600_000;

/** A client certificate signed with the environment's CA, independent of kubeusers' writers. */
async function caSigned(subject: string, notBefore: Date, notAfter: Date) {
  const env = testEnv();
  const caCert = new x509.X509Certificate(readFileSync(env.kube.caFile, 'utf8'));
  const caKey = await importPrivateKeyPem(readFileSync(env.kube.caKeyFile, 'utf8'), 'ecdsa-p256');
  const keys = await generateKey('ecdsa-p256');
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: caCert.subject,
    publicKey: keys.publicKey,
    signingKey: caKey,
    notBefore,
    notAfter,
    signingAlgorithm: signingAlgorithm('ecdsa-p256'),
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
  });
  return {
    certPem: cert.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    serial: cert.serialNumber.toLowerCase(),
  };
}

/** The subject kubeusers itself asks for, from its own group function: only the window is wrong. */
function ownSubject(name: string, uidNumber: number): string {
  const account: Account = {
    kind: 'tool',
    name,
    uid: `${P}.${name}`,
    uidNumber,
    gidNumber: uidNumber,
    home: home(name),
    locked: false,
    dn: s.dir.toolDn(name),
  };
  // The epoch id is kubeusers' own random draw; any will do for a certificate kubeusers never issued.
  const group = epochGroup(`kubeusers-${P}`, 'tool', name, '1-0000000000000000');
  return [
    `CN=${account.uid}`,
    ...certificateGroups(account, `kubeusers-${P}`, group, []).map((g) => `O=${g}`),
  ].join(', ');
}

function plantHome(name: string, uid: number, cert: { certPem: string; keyPem: string }): void {
  const h = home(name);
  for (const d of [h, join(h, '.toolskube')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, uid);
  }
  writeFileSync(join(h, '.toolskube', 'client.crt'), cert.certPem);
  writeFileSync(join(h, '.toolskube', 'client.key'), cert.keyPem, { mode: 0o600 });
  chownSync(join(h, '.toolskube', 'client.crt'), uid, uid);
  chownSync(join(h, '.toolskube', 'client.key'), uid, uid);
}

async function whoami(name: string): Promise<string> {
  const r = await kubectl(kubeconfigOf(home(name)), [
    '--context',
    'test',
    'auth',
    'whoami',
    '-o',
    'jsonpath={.status.userInfo.username}',
  ]);
  return r.stdout || r.stderr.trim();
}

const servingSerial = (name: string): string =>
  new x509.X509Certificate(
    readFileSync(join(home(name), '.toolskube', 'client.crt'), 'utf8'),
  ).serialNumber.toLowerCase();

describe('a certificate that is not valid yet', () => {
  it('in the home of a new tool is not adopted: a working one is issued and the skew reported', async () => {
    await s.dir.addTool({ name: 'early-home', uidNumber: 57_050 }); // setup: directory manager
    const early = await caSigned(
      ownSubject('early-home', 57_050),
      new Date(Date.now() + HOUR),
      new Date(Date.now() + 2 * HOUR),
    );
    plantHome('early-home', 57_050, early);
    const r = await s.sync({ only: new Set(['tool/early-home']) });
    expect(r.failures).toEqual([]);
    expect(await whoami('early-home')).toBe(`${P}.early-home`);
    expect(servingSerial('early-home')).not.toBe(early.serial);
    expect(
      s.logs.some(
        (l) =>
          l.includes('"account":"early-home"') && l.includes('not-yet-valid') && l.includes('skewSeconds'),
      ),
    ).toBe(true);
    expect(
      await metric('kubeusers_certificate_not_yet_valid_total', { kind: 'tool', source: 'home' }),
    ).toBeGreaterThan(0);
  });

  it('left by maintain-kubeusers is not adopted either', async () => {
    const name = 'early-legacy';
    // setup (kubeusers' own credentials): what maintain-kubeusers leaves, with a certificate from the future.
    await core().createNamespace({ body: { metadata: { name: ns(name) } } });
    await core().createNamespacedConfigMap({
      namespace: ns(name),
      body: {
        metadata: { name: 'maintain-kubeusers' },
        data: { expires: new Date(Date.now() + 2 * HOUR).toISOString() },
      },
    });
    const early = await caSigned(
      `CN=${name}, O=toolforge`,
      new Date(Date.now() + HOUR),
      new Date(Date.now() + 2 * HOUR),
    );
    plantHome(name, 57_051, early);
    await s.dir.addTool({ name, uidNumber: 57_051 }); // setup: directory manager
    const r = await s.sync({ only: new Set([`tool/${name}`]) });
    expect(r.failures).toEqual([]);
    expect(await whoami(name)).toBe(`${P}.${name}`);
    expect(servingSerial(name)).not.toBe(early.serial);
  });

  it('claimed by the state is reissued, and status shows the skew until then', async () => {
    const name = 'early-state';
    await s.dir.addTool({ name, uidNumber: 57_052 }); // setup: directory manager
    await s.sync({ only: new Set([`tool/${name}`]) });
    const early = await caSigned(
      ownSubject(name, 57_052),
      new Date(Date.now() + HOUR),
      new Date(Date.now() + 2 * HOUR),
    );
    plantHome(name, 57_052, early);
    const info = new x509.X509Certificate(early.certPem);
    // setup (kubeusers' own credentials): the state claims the certificate from the future.
    const cm = await core().readNamespacedConfigMap({
      namespace: `kubeusers-${P}`,
      name: `state-tool-${name}`,
    });
    cm.data = {
      ...cm.data,
      serial: early.serial,
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
    };
    await core().replaceNamespacedConfigMap({
      namespace: `kubeusers-${P}`,
      name: `state-tool-${name}`,
      body: cm,
    });
    const before = await cli(['--config', s.configFile, 'status', name]);
    expect(before.stdout).toMatch(/not yet valid/);
    expect(before.stdout).toMatch(/skew/);
    const json = await cli(['--config', s.configFile, 'status', name, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ validity: 'not-yet-valid', clockSkewSeconds: expect.any(Number) }),
    ]);
    const r = await s.sync({ only: new Set([`tool/${name}`]) });
    expect(r.done).toContain(`tool/${name}: issue a certificate (not-yet-valid)`);
    expect(servingSerial(name)).not.toBe(early.serial);
    expect(await whoami(name)).toBe(`${P}.${name}`);
    const after = await cli(['--config', s.configFile, 'status', name, '--json']);
    expect(JSON.parse(after.stdout)).toEqual([
      expect.objectContaining({ status: 'active', validity: 'valid' }),
    ]);
  });
});

describe("the signer's answer, seen from a clock out of step", () => {
  // The daemon's clock is moved, not the signer's: an hour behind, the signer's real answer starts an
  // hour ahead of it; two hours ahead, the one-hour certificate has already ended.
  const skews: [string, number, string, RegExp, RegExp][] = [
    [
      'the signer an hour ahead',
      -HOUR,
      'certificate-not-yet-valid',
      /starts at .*, 3\d{3} s ahead of this clock/,
      /"action":"not-yet-valid","source":"signer","skewSeconds":3\d{3}/,
    ],
    ['the signer two hours behind', 2 * HOUR, 'certificate-expired', /ended at .*, before /, /ended at/],
  ];
  it.each(skews)('with %s, it is refused and no key is written', async (_, offsetMs, reason, error, log) => {
    const name = `skew-${offsetMs < 0 ? 'behind' : 'ahead'}`;
    await s.dir.addTool({ name, uidNumber: offsetMs < 0 ? 57_060 : 57_061 }); // setup: directory manager
    const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const skewed = await buildApp(s.settings, { log: makeLogger('debug', sink), clock });
    const r = await runSync(skewed.sync, { mode: 'sync', only: new Set([`tool/${name}`]) });
    expect(r.failures).toEqual([{ account: `tool/${name}`, error: expect.stringMatching(error) }]);
    expect(existsSync(join(home(name), '.toolskube', 'client.key'))).toBe(false);
    expect(lines.join('')).toMatch(log);
    const failures = await skewed.metrics.registry.getSingleMetric('kubeusers_failures_total')!.get();
    expect(failures.values.find((v) => v.labels.reason === reason)?.value).toBe(1);
    // With the right time, the same account gets a working credential.
    const ok = await s.sync({ only: new Set([`tool/${name}`]), force: new Set([`tool/${name}`]) });
    expect(ok.failures).toEqual([]);
    expect(await whoami(name)).toBe(`${P}.${name}`);
  });
});
