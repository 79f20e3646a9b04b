// The Helm chart (deploy/helm/kubeusers) against the kustomize base and the real apiserver: the real
// helm (test/env/build-helm.sh) lints and renders it; with the default values it renders the
// base's objects, object by object; each value an operator changes changes exactly what it names;
// and the real kube-apiserver accepts every object it renders (server-side dry run). The docs
// walk-through installs it for real (docs/install.md, Helm).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { configSchema } from '../../../src/config/schema.ts';
import { helmBinary } from '../../env/binaries.ts';
import { startKube, type RunningKube } from '../../env/kube.ts';
import { kubectl, testEnv } from '../../env/index.ts';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..', '..');
const chart = join(repo, 'deploy', 'helm', 'kubeusers');
const scratch = mkdtempSync(join(tmpdir(), 'kubeusers-helm-'));

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function helm(args: string[], kubeconfig = testEnv().kube.adminKubeconfig): Promise<Result> {
  try {
    const { stdout, stderr } = await run(helmBinary(), args, {
      env: {
        PATH: process.env.PATH,
        // helm's own directories and the Kubernetes client's discovery cache ($HOME/.kube).
        HOME: scratch,
        HELM_CACHE_HOME: join(scratch, 'cache'),
        HELM_CONFIG_HOME: join(scratch, 'config'),
        HELM_DATA_HOME: join(scratch, 'data'),
        KUBECONFIG: kubeconfig,
      },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const key = (o: Obj): string => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

let renderings = 0;

/**
 * The objects of a rendering as kubectl sends them to the apiserver (kubectl's own YAML parser:
 * a folded CEL expression of the base reads differently in other parsers), in a stable order, with
 * the daemon's configuration parsed (the chart writes it with toYaml, the base by hand: the same
 * configuration, not the same text).
 */
async function objects(yaml: string | string[]): Promise<Obj[]> {
  let files = typeof yaml === 'string' ? [] : yaml;
  if (typeof yaml === 'string') {
    files = [join(scratch, `rendering-${++renderings}.yaml`)];
    writeFileSync(files[0]!, yaml);
  }
  const r = await kubectl(testEnv().kube.adminKubeconfig, [
    'create',
    '--dry-run=client',
    '-o',
    'yaml',
    ...files.flatMap((f) => ['-f', f]),
  ]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj)
    .map((o) => {
      const data = o.data as Record<string, unknown> | undefined;
      if (o.kind === 'ConfigMap' && typeof data?.['kubeusers.yaml'] === 'string')
        return { ...o, data: { ...data, 'kubeusers.yaml': parse(data['kubeusers.yaml']) as unknown } };
      return o;
    })
    .sort((a, b) => key(a).localeCompare(key(b)));
}

async function template(args: string[] = [], namespace = 'kubeusers'): Promise<Result> {
  return helm(['template', 'kubeusers', chart, '--namespace', namespace, ...args]);
}

async function rendered(args: string[] = [], namespace = 'kubeusers'): Promise<Obj[]> {
  const r = await template(args, namespace);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  return objects(r.stdout);
}

/** deploy/base: the files its kustomization lists, as written. */
let base: Obj[] = [];

beforeAll(async () => {
  const dir = join(repo, 'deploy', 'base');
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
  };
  base = await objects(kustomization.resources.map((f) => join(dir, f)));
});

afterAll(async () => {
  await kubectl(testEnv().kube.adminKubeconfig, ['delete', 'namespace', 'kubeusers-helm', '--wait=false']);
});

const clone = (): Obj[] => structuredClone(base);
const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
// What the cases change, typed as far as they reach into the objects.
interface Deployment {
  spec: {
    replicas: number;
    template: {
      spec: {
        containers: {
          image: string;
          resources: { limits: Record<string, string> };
          volumeMounts: { name: string; mountPath: string }[];
        }[];
        volumes: { name: string }[];
      };
    };
  };
}
type Section = Record<string, unknown>;
interface Config {
  ldap: Section;
  homes: Section;
  kubernetes: Section;
  sync?: Section;
}
interface Guard {
  matchConditions: { expression: string }[];
  variables: { name: string; expression: string }[];
}
const deployment = (objs: Obj[]): Deployment =>
  find(objs, 'Deployment', 'kubeusers') as unknown as Deployment;
const container = (objs: Obj[]) => deployment(objs).spec.template.spec.containers[0]!;
const config = (objs: Obj[]): Config =>
  (find(objs, 'ConfigMap', 'kubeusers-config').data as Record<string, Config>)['kubeusers.yaml']!;
const guard = (objs: Obj[]): Guard =>
  (find(objs, 'ValidatingAdmissionPolicy', 'kubeusers-guard') as unknown as { spec: Guard }).spec;
const variable = (objs: Obj[], name: string) => guard(objs).variables.find((v) => v.name === name)!;
const withoutNamespace = (objs: Obj[]): Obj[] => objs.filter((o) => o.kind !== 'Namespace');

describe('deploy/helm/kubeusers', () => {
  it('passes helm lint --strict', async () => {
    const r = await helm(['lint', '--strict', chart, '--namespace', 'kubeusers']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('renders exactly the objects of the kustomize base (the Namespace when asked)', async () => {
    expect(base.length).toBeGreaterThan(15);
    expect((await rendered(['--set', 'namespace.create=true'])).map(key)).toEqual(base.map(key));
    expect(await rendered(['--set', 'namespace.create=true'])).toEqual(base);
    // Helm stores a release in its namespace before it creates anything: by default the operator
    // creates the namespace (docs/install.md).
    expect(await rendered()).toEqual(withoutNamespace(base));
  });

  it('renders what kustomize renders from the base, but for the blank lines kustomize adds in CEL', async () => {
    // kustomize writes a folded expression with more-indented lines (kubeusers-guard.yaml) as a
    // literal one with a blank line added after its first line; CEL reads the two the same.
    const r = await kubectl(testEnv().kube.adminKubeconfig, ['kustomize', join(repo, 'deploy', 'base')]);
    expect(r.stderr).toBe('');
    const blankLines = (o: Obj[]): unknown =>
      JSON.parse(JSON.stringify(o).replaceAll(String.raw`\n\n`, String.raw`\n`));
    const kustomized = await objects(r.stdout);
    expect(kustomized).not.toEqual(base);
    expect(blankLines(kustomized)).toEqual(blankLines(base));
    expect(blankLines(await rendered(['--set', 'namespace.create=true']))).toEqual(blankLines(kustomized));
  });

  interface Case {
    name: string;
    args: string[];
    namespace?: string;
    /** The base, changed as the values say: the rendering must be exactly this. */
    change: (objs: Obj[]) => Obj[] | void;
  }
  const cases: Case[] = [
    {
      name: 'image',
      args: ['--set', 'image.repository=registry.example.org/kubeusers', '--set', 'image.tag=0.2.0'],
      change: (o) => void (container(o).image = 'registry.example.org/kubeusers:0.2.0'),
    },
    {
      name: 'replicas',
      args: ['--set', 'replicas=3'],
      change: (o) => void (deployment(o).spec.replicas = 3),
    },
    {
      name: 'resources',
      args: ['--set', 'resources.limits.memory=1Gi'],
      change: (o) => void (container(o).resources.limits.memory = '1Gi'),
    },
    {
      name: 'a configuration key (the others kept)',
      args: ['--set', 'config.ldap.project=other', '--set', 'config.sync.intervalSeconds=600'],
      change: (o) => {
        config(o).ldap.project = 'other';
        config(o).sync = { intervalSeconds: 600 };
      },
    },
    {
      name: 'the tool namespace prefix, in the configuration and the guard',
      args: ['--set', 'config.kubernetes.namespacePrefix=tf-'],
      change: (o) => {
        config(o).kubernetes.namespacePrefix = 'tf-';
        variable(o, 'prefix').expression = "'tf-'";
      },
    },
    {
      name: 'the homes: mount paths from the configuration, volumes from homeVolumes',
      args: [
        '--set',
        'config.homes.root=/srv/tools',
        '--set-json',
        'homeVolumes.tools={"hostPath":null,"nfs":{"server":"nfs.example.org","path":"/srv/tools"}}',
      ],
      change: (o) => {
        config(o).homes.root = '/srv/tools';
        container(o).volumeMounts.find((m) => m.name === 'tool-homes')!.mountPath = '/srv/tools';
        const volumes = deployment(o).spec.template.spec.volumes as Section[];
        volumes[volumes.findIndex((v) => v.name === 'tool-homes')] = {
          name: 'tool-homes',
          nfs: { server: 'nfs.example.org', path: '/srv/tools' },
        };
      },
    },
    {
      name: "the release's namespace: kubeusers' namespace everywhere it is named",
      args: [],
      namespace: 'kubeusers-b',
      change: (o) => {
        for (const x of o) {
          if (x.metadata.namespace === 'kubeusers') x.metadata.namespace = 'kubeusers-b';
          for (const s of (x.subjects as { kind: string; namespace?: string }[] | undefined) ?? [])
            if (s.kind === 'ServiceAccount') s.namespace = 'kubeusers-b';
        }
        config(o).kubernetes.namespace = 'kubeusers-b';
        guard(o).matchConditions[0]!.expression =
          "request.userInfo.username == 'system:serviceaccount:kubeusers-b:kubeusers'";
        variable(o, 'instance').expression = "'kubeusers-b'";
        (find(o, 'ClusterRoleBinding', 'kubeusers-api-admins').subjects as { name: string }[])[0]!.name =
          'kubeusers:kubeusers-b:admins';
      },
    },
  ];

  it.each(cases)('changes with the values exactly what they name: $name', async (c) => {
    const expected = clone();
    c.change(expected);
    const namespace = c.namespace ?? 'kubeusers';
    const got = await rendered(['--set', 'namespace.create=true', ...c.args], namespace);
    const ns = find(expected, 'Namespace', 'kubeusers');
    ns.metadata.name = namespace;
    expect(got).toEqual(expected.sort((a, b) => key(a).localeCompare(key(b))));
    // And the daemon takes the configuration the chart writes.
    expect(() => configSchema.parse(config(got))).not.toThrow();
  });

  it.each([
    {
      name: "a configured namespace that is not the release's",
      args: ['--set', 'config.kubernetes.namespace=elsewhere'],
      error: /config\.kubernetes\.namespace is "elsewhere" but the release's namespace is "kubeusers"/,
    },
    {
      name: "a prefix of the cluster's own namespaces",
      args: ['--set', 'config.kubernetes.namespacePrefix=kube-'],
      error: /namespacePrefix "kube-" must be a DNS label prefix ending with "-", not kube-/,
    },
    {
      name: 'a prefix the guard could not quote',
      args: ['--set', "config.kubernetes.namespacePrefix=a'-"],
      error: /namespacePrefix "a'-" must be a DNS label prefix/,
    },
    {
      name: 'no volume for the homes',
      args: ['--set', 'homeVolumes.admins=null'],
      error: /homeVolumes\.admins is empty/,
    },
  ])('refuses $name', async ({ args, error }) => {
    const r = await template(args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(error);
  });

  it.each([
    { name: 'the defaults', namespace: 'kubeusers', args: [] as string[] },
    {
      name: 'another namespace, prefix, image and homes',
      namespace: 'kubeusers-helm',
      args: [
        '--set',
        'config.kubernetes.namespacePrefix=tf-',
        '--set',
        'image.tag=0.2.0',
        '--set-json',
        'homeVolumes.tools={"hostPath":null,"nfs":{"server":"nfs.example.org","path":"/srv/tools"}}',
      ],
    },
  ])('renders what the real apiserver accepts, every object (server-side dry run): $name', async (c) => {
    const env = testEnv();
    // Namespaced objects dry-run only in a namespace that exists; it is created as the docs say.
    await kubectl(env.kube.adminKubeconfig, ['create', 'namespace', c.namespace]);
    const file = join(scratch, `${c.namespace}.yaml`);
    const r = await template(['--set', 'namespace.create=true', ...c.args], c.namespace);
    expect(r.code).toBe(0);
    writeFileSync(file, r.stdout);
    const applied = await kubectl(env.kube.adminKubeconfig, [
      'apply',
      '--server-side',
      '--force-conflicts',
      '--dry-run=server',
      '-f',
      file,
    ]);
    expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = applied.stdout.trim().split('\n');
    expect(lines).toHaveLength((await objects(r.stdout)).length);
    expect(lines.every((l) => /serverside-applied \(server dry run\)$/.test(l))).toBe(true);
  });
});

// A cluster of its own: helm install refuses objects it did not create, and the shared environment
// holds some of these cluster-wide objects already.
describe('helm install, upgrade and uninstall on a fresh cluster', () => {
  let kube: RunningKube | undefined;
  let kc = '';
  const dir = join(scratch, 'cluster');
  const k = (args: string[]): Promise<Result> => kubectl(kc, args);
  const release = ['kubeusers', chart, '--namespace', 'kubeusers'];

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    kube = await startKube(dir);
    kc = kube.info.adminKubeconfig;
  }, 120_000);

  afterAll(async () => {
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs every object, upgrades a value, and uninstalls them all', async () => {
    // docs/install.md, Helm: the namespace first, labelled as deploy/base/namespace.yaml labels it.
    expect((await k(['create', 'namespace', 'kubeusers'])).code).toBe(0);
    const installed = await helm(['install', ...release], kc);
    expect({ code: installed.code, stderr: installed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(installed.stdout).toMatch(/STATUS: deployed/);
    const listed = await helm(['get', 'manifest', ...release.filter((a) => a !== chart)], kc);
    const objs = await objects(listed.stdout);
    expect(objs).toEqual(withoutNamespace(base));
    // Every object exists in the cluster, as rendered.
    for (const o of objs) {
      const got = await k(['get', o.kind, o.metadata.name, '-n', o.metadata.namespace ?? '', '-o', 'name']);
      expect({ object: key(o), code: got.code }).toEqual({ object: key(o), code: 0 });
    }

    const upgraded = await helm(['upgrade', ...release, '--reuse-values', '--set', 'replicas=3'], kc);
    expect({ code: upgraded.code, stderr: upgraded.stderr }).toEqual({ code: 0, stderr: '' });
    const replicas = await k([
      '-n',
      'kubeusers',
      'get',
      'deployment',
      'kubeusers',
      '-o',
      'jsonpath={.spec.replicas}',
    ]);
    expect(replicas.stdout).toBe('3');

    const removed = await helm(['uninstall', 'kubeusers', '--namespace', 'kubeusers'], kc);
    expect(removed.code).toBe(0);
    for (const o of objs) {
      const got = await k(['get', o.kind, o.metadata.name, '-n', o.metadata.namespace ?? '', '-o', 'name']);
      expect({ object: key(o), stderr: got.stderr }).toEqual({
        object: key(o),
        stderr: expect.stringMatching(/NotFound|not found/) as unknown,
      });
    }
  });

  it('refuses to install over the kustomize manifests, and takes them over when told', async () => {
    const applied = await k(['apply', '--server-side', '-k', join(repo, 'deploy', 'base')]);
    expect(applied.code).toBe(0);
    const refused = await helm(['install', ...release], kc);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/exists and cannot be imported into the current release/);
    const taken = await helm(['upgrade', '--install', ...release, '--take-ownership'], kc);
    expect({ code: taken.code, stderr: taken.stderr }).toEqual({ code: 0, stderr: '' });
    const cr = await k(['get', 'clusterrole', 'kubeusers', '-o', 'jsonpath={.metadata.annotations}']);
    expect(cr.stdout).toContain('"meta.helm.sh/release-name":"kubeusers"');
  });
});
