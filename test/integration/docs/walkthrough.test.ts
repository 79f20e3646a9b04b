// The docs smoke test and the operator's walk-through: every command the README and docs/ show is
// either run here, on a fresh local environment, in the order an operator meets them (install.md,
// operations.md, api.md, migration.md, README), or named below with the reason it cannot run here.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseDocument } from 'yaml';
import { DirectoryFixture } from '../../env/directory.ts';
import { testEnv } from '../../env/index.ts';
import { startEnvironment, type Environment, type EnvInfo } from '../../env/environment.ts';
import { freePort, waitUntil } from '../../env/proc.ts';
import { writeApiServingPair } from '../../env/daemon-config.ts';
import { SAMPLE_ADMINS, SAMPLE_TOOLS } from '../../env/samples.ts';
import { shippedNodeFlags } from '../../env/shipped.ts';
import { helmBinary } from '../../env/binaries.ts';
import { docCommands, type DocCommand } from './commands.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const docs = readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md'));
const adrs = readdirSync(join(repo, 'docs', 'adr')).map((f) => `docs/adr/${f}`);
/** The operator's order: install, then operations; then the API, migration, the README. */
const FIRST = ['install.md', 'operations.md', 'api.md', 'migration.md'];
const FILES = [
  ...FIRST.map((f) => `docs/${f}`),
  ...docs.filter((f) => !FIRST.includes(f)).map((f) => `docs/${f}`),
  'README.md',
  'SECURITY.md',
  ...adrs,
];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Walk {
  env: EnvInfo;
  /** The operator's working directory: a copy of deploy/, the secrets' files, ca.crt, kubeusers.yaml. */
  work: string;
  bin: string;
  api: string;
  opsPort: number;
  apiPort: number;
  daemonLine: string;
  daemon?: ChildProcess;
  /** The daemon was stopped for a one-shot write, and is started again after it. */
  paused?: boolean;
  log: string;
}

interface Rule {
  match: RegExp;
  /** Why this command cannot run against the local environment. */
  skip?: string;
  before?: (w: Walk) => Promise<void> | void;
  /** What the output must show, beyond a zero exit. */
  expect?: RegExp;
  after?: (w: Walk, r: Result) => Promise<void> | void;
}

const TOOL = 'alpha';
const API_TOOL = 'charlie';

/** The docs' placeholders, made this environment's. */
function localize(w: Walk, text: string): string {
  return text
    .replaceAll('https://kubeusers.example.org', w.api)
    .replaceAll('https://kubeusers.kubeusers.svc', w.api)
    .replace('--api …', `--api ${w.api} --api-ca ca.crt`)
    .replace('"…"', '"docs walk-through"')
    .replace('status [name] [--json]', `status ${TOOL} --json`)
    .replaceAll('<name>', TOOL)
    .replaceAll('mytool', API_TOOL)
    .replaceAll('node dist/cli/index.js', `node ${join(repo, 'dist', 'cli', 'index.js')}`);
}

/** The operator's shell: this environment's kubectl and kubeusers first on PATH, a cluster-admin kubeconfig. */
function shellEnv(w: Walk, home: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_OPTIONS: '',
    PATH: `${w.bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    KUBECONFIG: w.env.kube.adminKubeconfig,
    KUBECACHEDIR: join(w.work, '.kube-cache'),
    HOME: home,
  };
}

function sh(w: Walk, command: string): Promise<Result> {
  // Admin API calls use the admin alice's own credentials (~/.kube/config, ~/.admkube/); everything
  // else is the operator.
  const home = /^curl |--api /.test(command) ? join(w.env.adminHomesRoot, 'alice') : w.work;
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd: w.work, env: shellEnv(w, home) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function synced(w: Walk): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${w.opsPort}/metrics`).catch(() => undefined);
  return /^kubeusers_sync_last_success_timestamp_seconds\{mode="sync"\}/m.test((await r?.text()) ?? '');
}

/** Where the Deployment would run its pods (this cluster has no kubelet): the README's `run` line. */
async function startDaemon(w: Walk): Promise<void> {
  if (w.daemon) return;
  const child = spawn('bash', ['-c', `exec ${localize(w, w.daemonLine)}`], {
    cwd: w.work,
    env: shellEnv(w, w.work),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (c: Buffer) => writeFileSync(w.log, c, { flag: 'a' }));
  child.stderr.on('data', (c: Buffer) => writeFileSync(w.log, c, { flag: 'a' }));
  w.daemon = child;
  await waitUntil("the daemon's first sync", () => synced(w), { timeoutMs: 120_000 }).catch(
    (err: unknown) => {
      const log = existsSync(w.log)
        ? readFileSync(w.log, 'utf8').split('\n').slice(-15).join('\n')
        : '(no log)';
      throw new Error(`${(err as Error).message}; the daemon's log ends:\n${log}`);
    },
  );
}

async function stopDaemon(w: Walk): Promise<void> {
  const child = w.daemon;
  if (!child) return;
  w.daemon = undefined;
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** install.md, Deploy step 1: "Edit deploy/base/config.yaml for your directory". */
function editDeployedConfig(w: Walk): void {
  const file = join(w.work, 'deploy', 'base', 'config.yaml');
  const cm = parseDocument(readFileSync(file, 'utf8'));
  const cfg = parseDocument(String(cm.getIn(['data', 'kubeusers.yaml'])));
  const { ldap } = w.env;
  cfg.setIn(['ldap', 'servers'], [ldap.ldapsUrl]);
  cfg.setIn(['ldap', 'bindDn'], ldap.serviceDn);
  cfg.setIn(['ldap', 'baseDn'], ldap.shape.baseDn);
  cfg.setIn(['ldap', 'project'], ldap.shape.project);
  cfg.setIn(['homes', 'root'], w.env.homesRoot);
  cfg.setIn(['homes', 'adminRoot'], w.env.adminHomesRoot);
  cm.setIn(['data', 'kubeusers.yaml'], cfg.toString());
  writeFileSync(file, cm.toString());
}

/**
 * install.md, the first dry run: "set kubernetes.kubeconfig … and point ldap.bindPassword.file at the
 * copy of the LDAP password". This machine also runs the daemon itself, so the API's serving pair and
 * both ports are local too. config/kubeusers.yaml is the CLI's default path (README, operations.md).
 */
function editLocalConfig(w: Walk): void {
  const file = join(w.work, 'kubeusers.yaml');
  const cfg = parseDocument(readFileSync(file, 'utf8'));
  cfg.setIn(['kubernetes', 'kubeconfig'], join(w.work, 'kubeusers.kubeconfig'));
  cfg.setIn(['ldap', 'bindPassword', 'file'], join(w.work, 'ldap-password'));
  cfg.setIn(['ldap', 'caFile'], join(w.work, 'ldap-ca.crt'));
  cfg.setIn(['api', 'certFile'], join(w.work, 'api.crt'));
  cfg.setIn(['api', 'keyFile'], join(w.work, 'api.key'));
  cfg.setIn(['api', 'address'], '127.0.0.1');
  cfg.setIn(['api', 'port'], w.apiPort);
  cfg.setIn(['ops', 'address'], '127.0.0.1');
  cfg.setIn(['ops', 'port'], w.opsPort);
  writeFileSync(file, cfg.toString(), { mode: 0o600 });
  mkdirSync(join(w.work, 'config'), { recursive: true });
  copyFileSync(file, join(w.work, 'config', 'kubeusers.yaml'));
}

/** operations.md, KubeusersRemovalGuardTripped: eleven tools provisioned, then gone from LDAP at once. */
async function tripTheGuard(w: Walk): Promise<void> {
  const ldap = new DirectoryFixture(w.env.ldap);
  const names = Array.from({ length: 11 }, (_, i) => `gone${i}`);
  for (const [i, name] of names.entries()) await ldap.addTool({ name, uidNumber: 53_000 + i });
  await waitUntil(
    'the eleven tools provisioned',
    async () => (await sh(w, `kubectl get ns ${names.map((n) => `tool-${n}`).join(' ')}`)).code === 0,
    { timeoutMs: 60_000 },
  );
  for (const name of names) await ldap.deleteTool(name);
  // A deleted entry leaves nothing for the one-second change query to find: the next periodic sync
  // (sync.intervalSeconds, 60 s here) sees it. Waiting exactly one interval raced that sync.
  await waitUntil(
    'the guard trips',
    async () =>
      /RemovalGuard/.test(
        (await sh(w, 'kubectl -n kubeusers get events --field-selector reason=RemovalGuard')).stdout,
      ),
    { timeoutMs: 150_000 },
  );
}

async function expectRemoved(w: Walk): Promise<void> {
  // Deleted, or still terminating (the namespace controller empties it first).
  const r = await sh(w, 'kubectl get ns tool-gone0 -o jsonpath={.status.phase}');
  expect(r.stdout).not.toMatch(/Active/);
}

async function installPrometheusOperatorCrd(w: Walk): Promise<void> {
  const crd = join(repo, 'test', 'env', 'fixtures', 'prometheusrule-crd.yaml');
  expect((await sh(w, `kubectl apply --server-side -f ${crd}`)).code).toBe(0);
  expect(
    (
      await sh(
        w,
        'kubectl wait --for=condition=Established crd/prometheusrules.monitoring.coreos.com --timeout=30s',
      )
    ).code,
  ).toBe(0);
}

/**
 * install.md, Helm step 2: "Write your values". The directory and homes of this environment, as
 * editDeployedConfig made deploy/base/config.yaml; the image and volumes keep the chart's defaults.
 */
function writeHelmValues(w: Walk): void {
  const cm = parseDocument(readFileSync(join(w.work, 'deploy', 'base', 'config.yaml'), 'utf8'));
  const config = parseDocument(String(cm.getIn(['data', 'kubeusers.yaml']))).toJS() as {
    kubernetes: Record<string, unknown>;
  };
  // The release's namespace; the chart refuses another.
  delete config.kubernetes.namespace;
  writeFileSync(join(w.work, 'kubeusers-values.yaml'), JSON.stringify({ config }));
}

async function jsonpath(w: Walk, what: string, path: string): Promise<string> {
  return (await sh(w, `kubectl get ${what} -o jsonpath='${path}'`)).stdout;
}

const NO_KUBELET =
  'this cluster has no kubelet, so the Deployment runs no pod: the daemon runs here as a process with the same configuration';

/** A one-shot write takes the Lease: a daemon the walk started is stopped around it, and started again. */
const DAEMON_PAUSED: Pick<Rule, 'before' | 'after'> = {
  before: async (w) => {
    w.paused = w.daemon !== undefined;
    await stopDaemon(w);
  },
  after: async (w) => {
    if (w.paused) await startDaemon(w);
    w.paused = false;
  },
};

const RULES: Rule[] = [
  {
    match: /^docker (build|push) /,
    skip: 'no Docker engine on this machine; the Dockerfile is checked by test/unit/deploy.test.ts',
  },
  { match: /^kubectl -n kubeusers logs deploy\/kubeusers/, skip: NO_KUBELET },
  {
    match: /^(npm install && )?npm start( -- --keep)?$/,
    skip: 'the local platform itself: test/integration/local/local.test.ts starts it and follows its guide',
  },
  {
    match: /^npm run local -- add-tool /,
    skip: "a command of the local platform's guide: test/integration/local/local.test.ts runs it",
  },
  { match: /^(bash \.ci\/run|npm test|npm ci)$/, skip: 'CI itself, which runs this test' },
  { match: /^npm ci && npm run build$/, skip: 'npm test builds before it runs this test' },
  {
    match: /^npm run bench( -- --quick)?$/,
    skip: 'the benchmarks: CI runs the quick mode (.ci/run); the full run takes about 40 minutes',
  },
  {
    match: /^npm run bench:profile$/,
    skip: 'a profiling run of several minutes, by hand; it writes bench/results/profile-<n>.md',
  },
  {
    match: /^(node dist\/cli\/index\.js --config config\/kubeusers\.yaml run|kubeusers run)$/,
    skip: "the daemon: this walk-through starts it with the README's line (startDaemon)",
  },
  {
    match: /^kubeusers revoke$/,
    skip: 'names the command in prose; its full forms (api.md, operations.md) run here',
  },
  {
    match: /^(kubectl create token|kubectl --field-manager=kubeusers)$/,
    skip: 'names a command in prose (SECURITY.md, ADR 12); its full forms run here or in the attack tests',
  },
  {
    match: /^kubectl create token … --audience kubeusers$/,
    skip: 'a placeholder form in api.md; the full `kubectl create token` lines of api.md run here',
  },
  { match: /^kubectl get events -A --field-selector reason=TamperingReverted$/ },
  {
    match: /^node dist\/cli\/index\.js$/,
    skip: 'names the command from a checkout; the README runs its full forms here',
  },
  {
    match: /^node src\/cli\/index\.ts$/,
    skip: 'names how the CLI runs from source; the `kubeusers` used here is exactly that, with the shipped Node flags',
  },
  // operations.md, rotating the bind password: the Secret updated in place from the operator's file.
  {
    match:
      /^kubectl -n kubeusers create secret generic kubeusers-ldap .* --dry-run=client -o yaml \| kubectl apply -f -$/,
    expect: /secret\/kubeusers-ldap (configured|unchanged)/,
  },
  { match: /^kubectl -n kubeusers create secret /, expect: /created/ },
  { match: /^kubectl create namespace kubeusers$/, expect: /created/ },
  {
    match: /^kubectl apply --server-side -f deploy\/base\/namespace\.yaml -f deploy\/base\/rbac\.yaml$/,
    expect: /serviceaccount\/kubeusers serverside-applied/,
    before: (w) => editDeployedConfig(w),
  },
  {
    match: /^kubectl create --dry-run=client -f deploy\/base\/config\.yaml/,
    after: (w) => expect(readFileSync(join(w.work, 'kubeusers.yaml'), 'utf8')).toContain(w.env.ldap.ldapsUrl),
  },
  { match: /^kubectl config /, expect: /./ },
  {
    match: /^kubeusers --config kubeusers\.yaml plan$/,
    expect: new RegExp(
      `tool/${TOOL}: apply Namespace tool-${TOOL}[\\s\\S]*(issue a certificate|or issue one)`,
    ),
    before: (w) => editLocalConfig(w),
  },
  {
    match: /^kubectl apply --server-side -k deploy\/base$/,
    expect: /deployment\.apps\/kubeusers serverside-applied/,
    after: async (w) => {
      await startDaemon(w);
      await waitUntil(
        "alice's kubeconfig",
        () => Promise.resolve(existsSync(join(w.env.adminHomesRoot, 'alice', '.kube', 'config'))),
        { timeoutMs: 30_000 },
      );
    },
  },
  {
    // install.md, upgrading: taking the pod-identity policy over from kubeusers, once (ADR 20).
    match: /^kubectl apply --server-side --force-conflicts -f deploy\/base\/pod-identity\.yaml$/,
    expect:
      /validatingadmissionpolicy\.admissionregistration\.k8s\.io\/kubeusers-pod-identity serverside-applied/,
  },
  {
    match: /^npm run gen:helm$/,
    skip: 'regenerates the chart in a checkout; test/unit/helm-chart.test.ts checks the chart is what it writes',
  },
  { match: /^npm run env:build$/, skip: 'CI builds the environment before it runs this test (.ci/run)' },
  {
    match: /^helm (install|upgrade)$/,
    skip: 'names the command in prose; its full forms run here',
  },
  {
    match: /^kubectl label namespace kubeusers --overwrite /,
    expect: /namespace\/kubeusers (not )?labeled/,
  },
  {
    match: /^helm lint deploy\/helm\/kubeusers /,
    expect: /1 chart\(s\) linted, 0 chart\(s\) failed/,
    before: writeHelmValues,
  },
  {
    match: /^helm template kubeusers deploy\/helm\/kubeusers .* > kubeusers-rendered\.yaml$/,
    after: (w) =>
      expect(readFileSync(join(w.work, 'kubeusers-rendered.yaml'), 'utf8')).toContain(w.env.ldap.ldapsUrl),
  },
  {
    match: /^kubectl apply --server-side --dry-run=server -f kubeusers-rendered\.yaml$/,
    expect: /deployment\.apps\/kubeusers serverside-applied \(server dry run\)/,
  },
  {
    match: /^helm install kubeusers /,
    skip:
      'the walk-through installed deploy/base with kustomize above, which helm install refuses: it runs the ' +
      '--take-ownership form below instead; test/integration/ops/helm.test.ts runs helm install on a fresh cluster',
  },
  {
    match: /^helm upgrade --install kubeusers .* --take-ownership$/,
    expect: /STATUS: deployed/,
    after: async (w) => {
      expect(await jsonpath(w, 'clusterrole kubeusers', '{.metadata.annotations}')).toContain(
        '"meta.helm.sh/release-name":"kubeusers"',
      );
      // The values reached the daemon's ConfigMap.
      expect(await jsonpath(w, '-n kubeusers configmap kubeusers-config', '{.data}')).toContain(
        w.env.ldap.ldapsUrl,
      );
    },
  },
  {
    match: /^helm upgrade kubeusers deploy\/helm\/kubeusers .* --set replicas=2$/,
    expect: /STATUS: deployed/,
    after: async (w) =>
      expect(await jsonpath(w, '-n kubeusers deployment kubeusers', '{.spec.replicas}')).toBe('2'),
  },
  { match: /^helm -n kubeusers get values kubeusers$/, expect: /replicas: 2/ },
  {
    match: /^kubectl apply --server-side -k deploy\/monitoring$/,
    expect: /prometheusrule\.monitoring\.coreos\.com\/kubeusers serverside-applied/,
    before: installPrometheusOperatorCrd,
  },
  { match: /^kubeusers status <name>$/, expect: new RegExp(`${TOOL}[\\s\\S]*active`) },
  { match: /^kubectl -n kubeusers get events$/, expect: /CertificateIssued/ },
  {
    match: /^kubectl -n kubeusers get events --field-selector reason=RemovalGuard$/,
    expect: /RemovalGuard/,
    before: tripTheGuard,
  },
  {
    match: /^kubectl -n kubeusers scale deployment kubeusers --replicas=0$/,
    expect: /scaled/,
    after: async (w) => stopDaemon(w),
  },
  {
    match: /^kubectl -n kubeusers scale deployment kubeusers --replicas=2$/,
    expect: /scaled/,
    after: async (w) => startDaemon(w),
  },
  {
    match: /^kubeusers --config kubeusers\.yaml sync --once --confirm-removals$/,
    after: async (w) => expectRemoved(w),
  },
  { match: /^kubectl -n kubeusers get lease kubeusers-leader -o yaml$/, expect: /holderIdentity: \S+/ },
  {
    match: /^kubectl apply --server-side -k deploy\/migration$/,
    expect: /clusterrolebinding\.rbac\.authorization\.k8s\.io\/kubeusers-migration serverside-applied/,
  },
  {
    match: /^kubectl delete -k deploy\/migration$/,
    expect: /clusterrolebinding\.rbac\.authorization\.k8s\.io "kubeusers-migration" deleted/,
  },
  { match: /^kubeusers revoke /, expect: /^revoked tool\// },
  { match: /^kubeusers (renew|status) \S+ --api /, expect: /./ },
  {
    match: /^kubectl get events -n tool-<name>$/,
    expect: /^(?=[\s\S]*CertificateIssued)(?=[\s\S]*CredentialRevoked)/,
  },
  { match: /^kubeusers (plan|status)$/ },
  // One-shot writes take the Lease: the docs run them with the daemon scaled down.
  { match: /^kubeusers (renew --once|sync --once --confirm-removals)$/, ...DAEMON_PAUSED },
  { match: /^curl .*\/revoke$/, expect: /"revoked"/ },
  { match: /^curl /, expect: /"name"|"items"|\[/ },
  { match: /^kubectl -n kubeusers create (serviceaccount|token) automation/ },
  { match: /^kubectl create clusterrolebinding kubeusers-automation /, expect: /created/ },
  { match: /^kubectl create clusterrolebinding kubeusers-gateway /, expect: /created/ },
  { match: /^node dist\/cli\/index\.js --config config\/kubeusers\.yaml (plan|status \[name\] \[--json\])$/ },
  {
    match: /^node dist\/cli\/index\.js --config config\/kubeusers\.yaml (sync --once|renew --once)$/,
    ...DAEMON_PAUSED,
  },
];

let environment: Environment | undefined;
let walk: Walk;

beforeAll(async () => {
  environment = await startEnvironment({ seed: { tools: SAMPLE_TOOLS, admins: SAMPLE_ADMINS } });
  const env = environment.info;
  const work = mkdtempSync(join(tmpdir(), 'kubeusers-walk-'));
  const bin = join(work, '.bin');
  mkdirSync(bin);
  // `kubeusers` as the image runs it; kubectl as built for this environment.
  writeFileSync(
    join(bin, 'kubeusers'),
    `#!/bin/sh\nexec "${process.execPath}" ${shippedNodeFlags().join(' ')} "${join(repo, 'src', 'cli', 'index.ts')}" "$@"\n`,
    { mode: 0o755 },
  );
  symlinkSync(env.kube.kubectl, join(bin, 'kubectl'));
  symlinkSync(helmBinary(), join(bin, 'helm'));
  cpSync(join(repo, 'deploy'), join(work, 'deploy'), { recursive: true });
  copyFileSync(env.ldap.servicePasswordFile, join(work, 'ldap-password'));
  copyFileSync(env.ldap.caFile, join(work, 'ldap-ca.crt'));
  copyFileSync(env.kube.caFile, join(work, 'ca.crt'));
  await writeApiServingPair(env, work);
  const apiPort = await freePort();
  const readme = docCommands(repo, ['README.md']).find((c) => / run$/.test(c.text));
  if (!readme) throw new Error('the README shows no command that runs the daemon');
  walk = {
    env,
    work,
    bin,
    api: `https://127.0.0.1:${apiPort}`,
    apiPort,
    opsPort: await freePort(),
    daemonLine: readme.text,
    log: join(work, 'kubeusers.log'),
  };
}, 120_000);

afterAll(async () => {
  if (walk) {
    await stopDaemon(walk);
    // The run's global teardown scans every kubeusers log it finds for secrets: this one too.
    if (existsSync(walk.log)) copyFileSync(walk.log, join(testEnv().dir, 'kubeusers-walkthrough.log'));
    rmSync(walk.work, { recursive: true, force: true });
  }
  await environment?.stop();
});

const where = (c: DocCommand): string => `${c.file}:${c.line}: ${c.text}`;

describe('the docs, followed by an operator on the local environment', () => {
  const commands = docCommands(repo, FILES);

  it('show no command that is neither run here nor named as not runnable, and no rule matches nothing', () => {
    expect(commands.filter((c) => !RULES.some((r) => r.match.test(c.text))).map(where)).toEqual([]);
    expect(
      RULES.filter((r) => !commands.some((c) => r.match.test(c.text))).map((r) => String(r.match)),
    ).toEqual([]);
  });

  it('work, command by command, in the order they are written', async () => {
    const ran: string[] = [];
    const skipped: string[] = [];
    for (const c of commands) {
      const rule = RULES.find((r) => r.match.test(c.text));
      if (!rule) throw new Error(`no rule for ${where(c)} (see the test above)`);
      if (rule.skip) {
        skipped.push(`${where(c)} — ${rule.skip}`);
        continue;
      }
      await rule.before?.(walk);
      const line = localize(walk, c.text);
      const r = await sh(walk, line);
      expect({ at: where(c), ran: line, code: r.code, stderr: r.stderr }).toEqual({
        at: where(c),
        ran: line,
        code: 0,
        stderr: expect.not.stringMatching(/error|forbidden|denied|unauthori[sz]ed/i) as unknown,
      });
      expect(r.stdout).not.toMatch(/"status":\s*4\d\d/);
      if (rule.expect)
        expect({ at: where(c), stdout: r.stdout }).toEqual({
          at: where(c),
          stdout: expect.stringMatching(rule.expect) as unknown,
        });
      await rule.after?.(walk, r);
      ran.push(where(c));
    }
    // The record of the walk-through, for the issue note.
    console.log(
      `ran ${ran.length} commands:\n${ran.join('\n')}\n\nnot runnable here (${skipped.length}):\n${skipped.join('\n')}`,
    );
    expect(ran.length).toBeGreaterThan(30);
    const log = readFileSync(walk.log, 'utf8');
    expect(log).toContain('"action":"revoke"');
    expect(log).not.toMatch(/-----BEGIN/);
    expect(log).not.toContain(readFileSync(walk.env.ldap.servicePasswordFile, 'utf8').trim());
    expect(log).not.toMatch(/eyJhbGciOi/);
  }, 600_000);
});
