import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { podIdentityPolicy } from '../../src/cluster/pod-identity.ts';
import { shippedNodeFlags } from '../env/shipped.ts';

describe('deploy/base/pod-identity.yaml', () => {
  it('is exactly what kubeusers applies (regenerate with npm run gen:deploy)', () => {
    const text = readFileSync(
      join(import.meta.dirname, '..', '..', 'deploy', 'base', 'pod-identity.yaml'),
      'utf8',
    );
    expect(parseAllDocuments(text).map((d) => d.toJS() as unknown)).toEqual(
      JSON.parse(JSON.stringify(podIdentityPolicy())),
    );
  });
});

describe('Dockerfile', () => {
  it('runs the command with the Node flags of its shebang', () => {
    const dockerfile = readFileSync(join(import.meta.dirname, '..', '..', 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1];
    expect(shippedNodeFlags()).not.toEqual([]);
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['node', ...shippedNodeFlags(), 'dist/cli/index.js']);
  });
});
