// Merges kubeusers' cluster, user and context into a user's kubeconfig, keeping everything else
// the user had (other clusters, contexts, preferences, comments).
import { Document, isMap, isSeq, parseDocument, YAMLMap, YAMLSeq } from 'yaml';

export interface KubeconfigEntry {
  clusterName: string;
  server: string;
  caData: string;
  userName: string;
  /** Paths relative to the kubeconfig's directory. */
  certPath: string;
  keyPath: string;
  contextName: string;
  namespace?: string;
}

export type MergeResult = { ok: string } | { error: string };

function upsertNamed(
  doc: Document,
  list: string,
  name: string,
  key: string,
  value: Record<string, unknown>,
): void {
  let seq = doc.get(list);
  if (!isSeq(seq)) {
    seq = new YAMLSeq();
    doc.set(list, seq);
  }
  const items = (seq as YAMLSeq).items;
  const node = doc.createNode({ name, [key]: value });
  const index = items.findIndex((item) => isMap(item) && item.get('name') === name);
  if (index >= 0) items[index] = node;
  else items.push(node);
}

/** The user's document, or why it cannot be merged into. An empty file counts as absent. */
function userDocument(existing: string | undefined): Document | string {
  const parsed = parseDocument(existing ?? '');
  if (parsed.errors.length > 0)
    return `it does not parse as YAML (${parsed.errors[0]?.message.split('\n')[0] ?? ''})`;
  // A new file is written in block style, as kubectl writes it; an existing one keeps its own style.
  const doc = parsed.contents === null ? new Document(new YAMLMap()) : parsed;
  if (!isMap(doc.contents)) return 'it is not a YAML mapping';
  const notList = ['clusters', 'users', 'contexts'].find((l) => {
    const value = doc.get(l);
    return value !== undefined && value !== null && !isSeq(value);
  });
  return notList ? `its "${notList}" is not a list` : doc;
}

export function mergeKubeconfig(existing: string | undefined, e: KubeconfigEntry): MergeResult {
  const doc = userDocument(existing);
  if (typeof doc === 'string') return { error: doc };
  if (!doc.has('apiVersion')) doc.set('apiVersion', 'v1');
  if (!doc.has('kind')) doc.set('kind', 'Config');
  upsertNamed(doc, 'clusters', e.clusterName, 'cluster', {
    server: e.server,
    'certificate-authority-data': e.caData,
  });
  upsertNamed(doc, 'users', e.userName, 'user', {
    'client-certificate': e.certPath,
    'client-key': e.keyPath,
  });
  const context: Record<string, unknown> = { cluster: e.clusterName, user: e.userName };
  if (e.namespace) context.namespace = e.namespace;
  upsertNamed(doc, 'contexts', e.contextName, 'context', context);
  const current = doc.get('current-context');
  // The user's own choice of context stands; a config with none gets ours.
  if (typeof current !== 'string' || current === '') doc.set('current-context', e.contextName);
  return { ok: doc.toString() };
}
