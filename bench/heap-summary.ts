// node bench/heap-summary.ts <file.heapsnapshot> [--top 40]: what a V8 heap snapshot holds, by kind
// of node, with plain objects told apart by their property names (an ObservedObject, a state, a
// memo entry), so that per-account records can be counted and weighed without a browser's
// DevTools. Self sizes only (what each node itself takes): a retained size would need the dominator
// tree, and what the records hold is mostly strings, counted apart.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '40' } },
});
const file = positionals[0];
if (!file) throw new Error('usage: node bench/heap-summary.ts <file.heapsnapshot> [--top 40]');
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const meta = snap.snapshot.meta;
const nf = meta.node_fields.length;
const ef = meta.edge_fields.length;
const at = (fields: string[], name: string): number => fields.indexOf(name);
const [nType, nName, nSize, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
  at(meta.node_fields, f),
) as [number, number, number, number];
const [eType, eName] = ['type', 'name_or_index'].map((f) => at(meta.edge_fields, f)) as [number, number];
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];

/** A plain object's own property names (its shape), from its edges. */
function propertyNames(first: number, count: number): string[] {
  const props: string[] = [];
  for (let e = first; e < first + count * ef; e += ef)
    if (edgeTypes[snap.edges[e + eType]!] === 'property') props.push(snap.strings[snap.edges[e + eName]!]!);
  return props.sort();
}

const groups = new Map<string, { count: number; bytes: number }>();
let total = 0;
let edge = 0;
for (let i = 0; i < snap.nodes.length; i += nf) {
  const type = nodeTypes[snap.nodes[i + nType]!]!;
  const name = snap.strings[snap.nodes[i + nName]!]!;
  const size = snap.nodes[i + nSize]!;
  const edges = snap.nodes[i + nEdges]!;
  let key = `${type}`;
  if (type === 'object' && name === 'Object') {
    key = `Object {${propertyNames(edge, edges).join(',')}}`;
  } else if (type === 'object' || type === 'closure' || type === 'hidden' || type === 'array') {
    key = `${type} ${name.slice(0, 60)}`;
  }
  edge += edges * ef;
  total += size;
  const g = groups.get(key) ?? { count: 0, bytes: 0 };
  g.count += 1;
  g.bytes += size;
  groups.set(key, g);
}

const mb = (b: number): string => (b / 1024 / 1024).toFixed(2);
console.log(`${file}: ${mb(total)} MB in ${snap.nodes.length / nf} nodes\n`);
console.log('| group | count | MB |\n| --- | --- | --- |');
for (const [key, g] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(values.top)))
  console.log(`| ${key.replaceAll('|', '\\|')} | ${g.count} | ${mb(g.bytes)} |`);
