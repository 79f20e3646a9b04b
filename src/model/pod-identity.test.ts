import { describe, expect, it } from '@jest/globals';
import type { Account } from './account.ts';
import { toolNamespaceObject, toolObjects } from './manifests.ts';
import { MATCH_DEFAULTS, podIdentityMetadata, podIdentityPolicy } from './pod-identity.ts';

const account: Account = {
  kind: 'tool',
  name: 'foo',
  uid: 'tools.foo',
  uidNumber: 52_000,
  gidNumber: 52_001,
  home: '/data/project/foo',
  locked: false,
  dn: 'cn=tools.foo,ou=people,ou=servicegroups,dc=x',
};
const paths = { allowedHostPaths: ['/data/project', '/public/dumps'], readOnlyHostPaths: ['/public/dumps'] };
const base = {
  instance: 'kubeusers',
  namespacePrefix: 'tool-',
  toolClusterRole: 'kubeusers-tool',
  adminClusterRoles: [],
};

describe('podIdentityMetadata', () => {
  const cases: [string, Parameters<typeof podIdentityMetadata>[2], Record<string, string>][] = [
    [
      'the configured host paths',
      paths,
      {
        'kubeusers.io/allowed-host-paths': '/data/project,/public/dumps',
        'kubeusers.io/read-only-host-paths': '/public/dumps',
      },
    ],
    [
      'Strict supplemental groups when asked for',
      { ...paths, strictSupplementalGroups: true },
      {
        'kubeusers.io/allowed-host-paths': '/data/project,/public/dumps',
        'kubeusers.io/read-only-host-paths': '/public/dumps',
        'kubeusers.io/supplemental-groups-policy': 'Strict',
      },
    ],
    [
      'no host paths without settings (the policy then admits none)',
      undefined,
      { 'kubeusers.io/allowed-host-paths': '', 'kubeusers.io/read-only-host-paths': '' },
    ],
  ];
  it.each(cases)('labels the uid and gid, and annotates %s', (_, s, annotations) => {
    expect(podIdentityMetadata(52_000, 52_001, s)).toEqual({
      labels: { 'kubeusers.io/uid': '52000', 'kubeusers.io/gid': '52001' },
      annotations,
    });
  });
});

describe('the tool namespace carries the pod identity', () => {
  it('as labels and annotations of the Namespace, and no parameter object in the namespace', () => {
    const ns = toolNamespaceObject(account, { ...base, podIdentity: paths });
    expect(ns.metadata.labels).toMatchObject({
      tenancy: 'tool',
      'kubeusers.io/uid': '52000',
      'kubeusers.io/gid': '52001',
    });
    expect(ns.metadata.annotations).toMatchObject({
      'kubeusers.io/allowed-host-paths': '/data/project,/public/dumps',
    });
    const objects = toolObjects(
      account,
      { ...base, podIdentity: paths },
      { quota: {}, limitRange: [], version: 0 },
      [],
    );
    expect(objects.map((o) => o.kind)).toEqual(['ResourceQuota', 'LimitRange', 'RoleBinding']);
  });

  it('changes its hash when the uid changes, so the next sync relabels it', () => {
    const hash = (uidNumber: number): string | undefined =>
      toolNamespaceObject({ ...account, uidNumber }, { ...base, podIdentity: paths }).metadata.annotations[
        'kubeusers.io/spec-hash'
      ];
    expect(hash(52_000)).not.toBe(hash(52_002));
  });
});

describe('podIdentityPolicy', () => {
  it('has no parameters: it reads the namespace', () => {
    const [policy, binding] = podIdentityPolicy() as [
      { spec: Record<string, unknown> },
      { spec: Record<string, unknown> },
    ];
    expect(policy.spec).not.toHaveProperty('paramKind');
    expect(binding.spec).not.toHaveProperty('paramRef');
    expect(JSON.stringify(policy.spec)).toContain('namespaceObject');
    expect(JSON.stringify(policy.spec)).not.toContain('params.');
  });

  // Atomic structs: a second applier of the same content conflicts unless the apiserver's defaults
  // are written out (ADR 20).
  it('writes out the defaults inside matchConstraints and matchResources', () => {
    const [policy, binding] = podIdentityPolicy() as [
      { spec: { matchConstraints: Record<string, unknown> & { resourceRules: object[] } } },
      { spec: { matchResources: Record<string, unknown> } },
    ];
    expect(policy.spec.matchConstraints).toMatchObject({ ...MATCH_DEFAULTS, namespaceSelector: {} });
    for (const rule of policy.spec.matchConstraints.resourceRules) expect(rule).toMatchObject({ scope: '*' });
    expect(binding.spec.matchResources).toMatchObject(MATCH_DEFAULTS);
    expect(binding.spec.matchResources.namespaceSelector).toBeDefined();
  });
});
