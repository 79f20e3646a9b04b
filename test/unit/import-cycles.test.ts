// No module of src/ reaches itself through its imports (type-only imports included: a circle of
// types is still a circle of meaning, and the folder split of ADR 23 rests on a one-way graph).
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** Each source file and the source files it imports (relative specifiers only). */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')))
      .filter((target) => known.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Strongly connected components of more than one file, or a file importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(path.relative(root, w));
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Built-in modules the pure model may use: hashing and path arithmetic compute, they do no I/O. */
const MODEL_MAY_USE = new Set(['node:crypto', 'node:path']);

/**
 * What a file of src/model/ imports from outside the model: anything but another model file, the
 * built-ins above, or types only (erased at run time).
 */
function modelLeaks(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const leaks: string[] = [];
  for (const st of source.statements) {
    if (!ts.isImportDeclaration(st) && !ts.isExportDeclaration(st)) continue;
    if (!st.moduleSpecifier || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const spec = st.moduleSpecifier.text;
    if (spec.startsWith('./') || MODEL_MAY_USE.has(spec) || typeOnly(st)) continue;
    leaks.push(`${path.relative(root, file)} imports ${spec}`);
  }
  return leaks;
}

function typeOnly(st: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(st)) return st.isTypeOnly;
  const clause = st.importClause;
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return !clause.name && !!named && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly);
}

describe('the import graph of src/', () => {
  it('has no cycles', () => {
    expect(cycles(importGraph(sources(root)))).toEqual([]);
  });

  it('has the composition root imported by the commands only', () => {
    const main = path.join(root, 'main.ts');
    const importers = [...importGraph(sources(root))]
      .filter(([, targets]) => targets.includes(main))
      .map(([file]) => path.relative(root, file))
      .filter((file) => !file.startsWith(`cli${path.sep}`));
    expect(importers).toEqual([]);
  });

  it('keeps the pure model (src/model/) free of the edges', () => {
    const model = sources(path.join(root, 'model'));
    expect(model.length).toBeGreaterThan(10);
    expect(model.flatMap(modelLeaks)).toEqual([]);
  });

  it('finds a cycle where there is one (the check itself)', () => {
    const graph = new Map([
      ['/a', ['/b']],
      ['/b', ['/c']],
      ['/c', ['/a']],
      ['/d', ['/a']],
    ]);
    expect(cycles(graph)).toHaveLength(1);
  });
});
