import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { configSchema } from '../../src/config/schema.ts';
import { podIdentityPolicy } from '../../src/model/pod-identity.ts';
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

describe('deploy/base/kubeusers-guard.yaml', () => {
  type Doc = {
    kind: string;
    metadata: { name: string; namespace?: string };
    spec?: GuardSpec;
    data?: Record<string, string>;
  };
  type GuardSpec = {
    failurePolicy?: string;
    matchConditions?: unknown;
    variables?: { name: string; expression: string }[];
    policyName?: string;
    validationActions?: string[];
  };
  const docs = (file: string): Doc[] =>
    parseAllDocuments(
      readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'base', file), 'utf8'),
    ).map((d) => d.toJS() as Doc);

  it("limits the ServiceAccount of rbac.yaml, with config.yaml's namespace and namespace prefix", () => {
    const [policy, binding] = docs('kubeusers-guard.yaml');
    const sa = docs('rbac.yaml').find((d) => d.kind === 'ServiceAccount')!;
    const config = configSchema.parse(parse(docs('config.yaml')[0]!.data!['kubeusers.yaml']!));
    const variable = (name: string) => policy!.spec!.variables!.find((v) => v.name === name)?.expression;
    expect(policy!.spec!.matchConditions).toEqual([
      {
        name: 'kubeusers-service-account',
        expression: `request.userInfo.username == 'system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}'`,
      },
    ]);
    expect(variable('instance')).toBe(`'${config.kubernetes.namespace}'`);
    expect(variable('prefix')).toBe(`'${config.kubernetes.namespacePrefix}'`);
    expect(policy!.spec!.failurePolicy).toBe('Fail');
    expect(binding).toMatchObject({
      kind: 'ValidatingAdmissionPolicyBinding',
      spec: { policyName: policy!.metadata.name, validationActions: ['Deny'] },
    });
  });
});
