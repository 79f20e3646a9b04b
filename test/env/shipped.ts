// The Node flags the shipped `kubeusers` command runs with. Its shebang is where they live; the
// image's entrypoint repeats them (a unit test keeps the two equal) and benchmarks run with them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const entry = join(import.meta.dirname, '..', '..', 'src', 'cli', 'index.ts');

export function shippedNodeFlags(): string[] {
  const first = readFileSync(entry, 'utf8').split('\n')[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(first);
  if (!m) throw new Error(`${entry} does not start with a "#!/usr/bin/env -S node" line`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}
