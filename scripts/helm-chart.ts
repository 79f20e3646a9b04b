// The Helm chart in deploy/helm/kubeusers, generated from the kustomize base (scripts/gen-helm.ts
// writes it; test/unit/helm-chart.test.ts checks it is current). Each base file becomes a template
// of the same name; the edits below turn the few values an operator changes into template
// expressions, and each edit must find exactly what it expects, so a change to the base that moves
// one of them stops the generator instead of silently leaving a fixed value in the chart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Document, isScalar, isSeq, parse, parseAllDocuments, parseDocument } from 'yaml';

type Path = (string | number)[];

/** A replacement of the base file's text between two offsets. */
interface Edit {
  start: number;
  end: number;
  text: string;
}

const NS = '{{ .Release.Namespace }}';

interface Meta {
  kind: string;
  metadata: { name: string; namespace?: string };
}

function fail(where: string, what: string): never {
  throw new Error(`gen:helm: ${where}: ${what} (deploy/base changed? update scripts/helm-chart.ts)`);
}

interface Ranged {
  range?: [number, number, number] | null;
}

/**
 * The edits that make one base document a template. They change the base file's text where the
 * parsed nodes are (their source ranges), so every other byte of the file, comments and layout
 * included, is the base's own.
 */
class Templating {
  readonly edits: Edit[] = [];
  readonly doc: Document;
  readonly source: string;
  readonly where: string;
  constructor(doc: Document, source: string, where: string) {
    this.doc = doc;
    this.source = source;
    this.where = where;
  }

  private range(path: Path): [number, number] {
    const node = this.doc.getIn(path, true) as Ranged | undefined;
    if (!node?.range) fail(this.where, `nothing at ${path.join('.')}`);
    return [node.range[0], node.range[1]];
  }

  /** Replaces `from` inside the scalar at `path`, as written in the base, by a template expression. */
  inline(path: Path, from: string, template: string): void {
    if (!isScalar(this.doc.getIn(path, true))) fail(this.where, `no scalar at ${path.join('.')}`);
    const [start, end] = this.range(path);
    const written = this.source.slice(start, end);
    const at = written.indexOf(from);
    if (at < 0 || written.indexOf(from, at + 1) >= 0)
      fail(this.where, `${path.join('.')} does not hold ${from} exactly once`);
    this.edits.push({ start: start + at, end: start + at + from.length, text: template });
  }

  /** Replaces the value at `path` (a scalar, or a list item) by a template expression. */
  value(path: Path, template: string): void {
    const [start, end] = this.range(path);
    this.edits.push({ start, end, text: template });
  }

  /**
   * Replaces the value of the key at `path` by an expression that writes YAML (`literal`: a
   * block scalar), on the lines below the key, indented under it.
   */
  block(path: Path, literal: boolean, expression: string): void {
    const key = path.at(-1)!;
    const map = this.doc.getIn(path.slice(0, -1), true) as {
      items?: { key: Ranged & { value?: unknown } }[];
    };
    const pair = map.items?.find((p) => p.key.value === key);
    if (!pair?.key.range) fail(this.where, `no key ${path.join('.')}`);
    const colon = this.source.indexOf(':', pair.key.range[1]);
    const lineStart = this.source.lastIndexOf('\n', pair.key.range[0]) + 1;
    const indent = pair.key.range[0] - lineStart;
    let [, end] = this.range(path);
    while (this.source[end - 1] === '\n') end--;
    const pad = ' '.repeat(indent + 2);
    this.edits.push({
      start: colon + 1,
      end,
      text: `${literal ? ' |' : ''}\n${pad}{{- ${expression} | nindent ${indent + 2} }}`,
    });
  }

  /** The index of the item of the list at `path` whose `key` is `value`. */
  indexOf(path: Path, key: string, value: string): number {
    const seq = this.doc.getIn(path, true);
    if (!isSeq(seq)) fail(this.where, `no list at ${path.join('.')}`);
    const i = (seq.toJSON() as Record<string, unknown>[]).findIndex((e) => e[key] === value);
    if (i < 0) fail(this.where, `no ${key}: ${value} in ${path.join('.')}`);
    return i;
  }
}

/** The base file's text with the edits made. */
function applyEdits(source: string, edits: Edit[], where: string): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start);
  sorted.forEach((e, i) => {
    if (i > 0 && e.end > sorted[i - 1]!.start) fail(where, 'two edits overlap');
  });
  return sorted.reduce((text, e) => text.slice(0, e.start) + e.text + text.slice(e.end), source);
}

export interface BaseDefaults {
  namespace: string;
  image: { repository: string; tag: string };
  replicas: number;
  resources: unknown;
  homeVolumes: { tools: unknown; admins: unknown };
  config: Record<string, unknown>;
}

/** The values an operator changes, as the base has them: the chart's defaults. */
export function baseDefaults(objects: Meta[]): BaseDefaults {
  const find = <T>(kind: string, name: string): T => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
    if (!o) fail('deploy/base', `no ${kind} ${name}`);
    return o as T;
  };
  const namespace = find<Meta>('Namespace', 'kubeusers').metadata.name;
  interface Deployment {
    spec: {
      replicas: number;
      template: {
        spec: {
          containers: { name: string; image: string; resources: unknown }[];
          volumes: ({ name: string } & Record<string, unknown>)[];
        };
      };
    };
  }
  const deploy = find<Deployment>('Deployment', 'kubeusers');
  const pod = deploy.spec.template.spec;
  const container =
    pod.containers.find((c) => c.name === 'kubeusers') ?? fail('deployment.yaml', 'no container');
  const at = container.image.lastIndexOf(':');
  const volume = (name: string): unknown => {
    const source = { ...(pod.volumes.find((v) => v.name === name) ?? fail('deployment.yaml', name)) };
    delete (source as { name?: string }).name;
    return source;
  };
  const cm = find<{ data: Record<string, string> }>('ConfigMap', 'kubeusers-config');
  const config = parse(cm.data['kubeusers.yaml']!) as { kubernetes?: Record<string, unknown> };
  if (config.kubernetes?.namespace !== namespace)
    fail('config.yaml', `kubernetes.namespace is not ${namespace}`);
  delete config.kubernetes.namespace;
  return {
    namespace,
    image: { repository: container.image.slice(0, at), tag: container.image.slice(at + 1) },
    replicas: deploy.spec.replicas,
    resources: container.resources,
    homeVolumes: { tools: volume('tool-homes'), admins: volume('admin-homes') },
    config,
  };
}

/** The edits that make one base document a template; `wrap` when the whole file is conditional. */
function template(doc: Document, source: string, ns: string, file: string): { edits: Edit[]; wrap?: string } {
  const o = doc.toJS() as Meta & { subjects?: { kind: string; namespace?: string }[] };
  const t = new Templating(doc, source, `${file}: ${o.kind} ${o.metadata.name}`);
  if (o.metadata.namespace === ns) t.inline(['metadata', 'namespace'], ns, NS);
  o.subjects?.forEach((s, i) => {
    if (s.kind === 'ServiceAccount' && s.namespace === ns) t.inline(['subjects', i, 'namespace'], ns, NS);
  });
  switch (`${o.kind}/${o.metadata.name}`) {
    case `Namespace/${ns}`:
      t.inline(['metadata', 'name'], ns, NS);
      return { edits: t.edits, wrap: '.Values.namespace.create' };
    case 'ClusterRoleBinding/kubeusers-api-admins':
      t.inline(['subjects', 0, 'name'], `kubeusers:${ns}:admins`, `kubeusers:${NS}:admins`);
      break;
    case 'ValidatingAdmissionPolicy/kubeusers-guard': {
      t.inline(['spec', 'matchConditions', 0, 'expression'], `:${ns}:kubeusers'`, `:${NS}:kubeusers'`);
      const variables = ['spec', 'variables'];
      t.inline([...variables, t.indexOf(variables, 'name', 'instance'), 'expression'], `'${ns}'`, `'${NS}'`);
      t.inline(
        [...variables, t.indexOf(variables, 'name', 'prefix'), 'expression'],
        `'tool-'`,
        `'{{ include "kubeusers.prefix" . }}'`,
      );
      break;
    }
    case 'ConfigMap/kubeusers-config':
      t.block(['data', 'kubeusers.yaml'], true, 'include "kubeusers.config" .');
      break;
    case 'Deployment/kubeusers': {
      t.value(['spec', 'replicas'], '{{ .Values.replicas }}');
      const pod = ['spec', 'template', 'spec'];
      const c = [...pod, 'containers', t.indexOf([...pod, 'containers'], 'name', 'kubeusers')];
      t.value([...c, 'image'], '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"');
      t.block([...c, 'resources'], false, 'toYaml .Values.resources');
      const mounts = [...c, 'volumeMounts'];
      for (const [name, key] of [
        ['tool-homes', 'root'],
        ['admin-homes', 'adminRoot'],
      ] as const) {
        t.value(
          [...mounts, t.indexOf(mounts, 'name', name), 'mountPath'],
          `{{ required "config.homes.${key} is required" (dig "homes" "${key}" "" .Values.config) }}`,
        );
      }
      const volumes = [...pod, 'volumes'];
      for (const [name, which] of [
        ['tool-homes', 'tools'],
        ['admin-homes', 'admins'],
      ] as const) {
        t.value(
          [...volumes, t.indexOf(volumes, 'name', name)],
          `{{ include "kubeusers.homeVolume" (dict "root" . "which" "${which}" "name" "${name}") }}`,
        );
      }
      break;
    }
  }
  return { edits: t.edits };
}

/** The chart's generated files, by path inside deploy/helm/kubeusers. */
export function generateChart(repo: string): Record<string, string> {
  const base = join(repo, 'deploy', 'base');
  const chart = join(repo, 'deploy', 'helm', 'kubeusers');
  const resources = (parse(readFileSync(join(base, 'kustomization.yaml'), 'utf8')) as { resources: string[] })
    .resources;
  const docs = resources.map((file) => {
    const source = readFileSync(join(base, file), 'utf8');
    return { file, source, docs: parseAllDocuments(source) };
  });
  const defaults = baseDefaults(docs.flatMap((f) => f.docs.map((d) => d.toJS() as Meta)));
  const out: Record<string, string> = {};
  for (const { file, source, docs: fileDocs } of docs) {
    for (const d of fileDocs) if (d.errors.length > 0) fail(file, d.errors[0]!.message);
    const parts = fileDocs.map((d) => template(d as Document, source, defaults.namespace, file));
    let text = applyEdits(
      source,
      parts.flatMap((p) => p.edits),
      file,
    );
    const wrap = parts.find((p) => p.wrap)?.wrap;
    if (wrap) {
      if (parts.length !== 1) fail(file, 'a conditional object shares its file');
      text = `{{- if ${wrap} }}\n${text}{{- end }}\n`;
    }
    // A template comment: helm's output shows the base's own comments, not this one.
    out[`templates/${file}`] =
      `{{- /* Generated by \`npm run gen:helm\` from deploy/base/${file}; do not edit. */ -}}\n${text}`;
  }

  const values = parseDocument(readFileSync(join(chart, 'values.yaml'), 'utf8'));
  values.setIn(['image', 'repository'], defaults.image.repository);
  values.setIn(['image', 'tag'], defaults.image.tag);
  values.setIn(['replicas'], defaults.replicas);
  values.setIn(['resources'], values.createNode(defaults.resources));
  values.setIn(['homeVolumes', 'tools'], values.createNode(defaults.homeVolumes.tools));
  values.setIn(['homeVolumes', 'admins'], values.createNode(defaults.homeVolumes.admins));
  values.setIn(['config'], values.createNode(defaults.config));
  out['values.yaml'] = values.toString({ lineWidth: 0 });

  const meta = parseDocument(readFileSync(join(chart, 'Chart.yaml'), 'utf8'));
  meta.setIn(['appVersion'], defaults.image.tag);
  out['Chart.yaml'] = meta.toString({ lineWidth: 0 });
  return out;
}
