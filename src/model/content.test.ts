import { describe, expect, it } from '@jest/globals';
import type { Account } from './account.ts';
import { adminObjects, toolNamespaceObject, toolObjects, type Desired } from './manifests.ts';
import { changedParts, contentDigest, revertPlan, type Content } from './content.ts';

const RBAC = 'rbac.authorization.k8s.io';
const settings = {
  instance: 'kubeusers',
  namespacePrefix: 'tool-',
  toolClusterRole: 'kubeusers-tool',
  adminClusterRoles: ['view'],
};
const tool: Account = {
  kind: 'tool',
  name: 'foo',
  uid: 'tools.foo',
  uidNumber: 52_000,
  gidNumber: 52_000,
  home: '/data/project/foo',
  locked: false,
  dn: 'cn=tools.foo,ou=people,ou=servicegroups,dc=x',
};
const resources = {
  version: 0,
  quota: { 'requests.memory': '1024Mi', 'requests.cpu': '1000m', pods: '16' },
  limitRange: [
    {
      type: 'Container',
      default: { cpu: '500m' },
      max: { cpu: '1', memory: '4096Mi' },
      min: { cpu: '50m', memory: '100Mi' },
    },
  ],
};
const subjects = [{ kind: 'Group' as const, name: 'kubeusers:tool:foo:3' }];
const [quota, limits, binding] = toolObjects(tool, settings, resources, subjects) as [
  Desired,
  Desired,
  Desired,
];
const namespace = toolNamespaceObject(tool, settings);
const [adminBinding] = adminObjects({ ...tool, kind: 'admin', name: 'ada' }, settings, subjects) as [Desired];

type Obj = Record<string, unknown>;
const clone = <T>(o: T): T => structuredClone(o);
/** What the apiserver adds to any object it stores. */
function stored(o: Desired, mods: (x: Obj & { metadata: Obj }) => void = () => undefined): Content {
  const x = clone(o) as unknown as Obj & { metadata: Obj };
  x.metadata = {
    ...x.metadata,
    uid: '7c1e',
    resourceVersion: '42',
    creationTimestamp: '2026-06-01T00:00:00Z',
    managedFields: [{ manager: 'kubeusers', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
  };
  mods(x);
  return x;
}
const labels = (x: { metadata: Obj }): Record<string, string> => x.metadata.labels as Record<string, string>;
const annotations = (x: { metadata: Obj }): Record<string, string> =>
  (x.metadata.annotations ??= {}) as Record<string, string>;
const spec = <T>(x: Obj): T => x.spec as T;
/** An item of a list, as the put-back reads it: no kind, no apiVersion. */
const item = (o: Content): Content => {
  const copy = { ...o } as Obj;
  delete copy.kind;
  delete copy.apiVersion;
  return copy;
};
type QuotaSpec = { hard: Record<string, string>; scopes?: string[] };
type Limit = Record<string, Record<string, string> | string>;
type Subj = { apiGroup?: string; kind: string; name: string };

/** What the apiserver makes of our objects: canonical quantities, LimitRange defaults, its own label. */
const served = {
  namespace: stored(namespace, (x) => {
    labels(x)['kubernetes.io/metadata.name'] = 'tool-foo';
    x.spec = { finalizers: ['kubernetes'] };
    x.status = { phase: 'Active' };
  }),
  quota: stored(quota, (x) => {
    x.spec = { hard: { 'requests.memory': '1Gi', 'requests.cpu': '1', pods: '16' } };
    x.status = { hard: { pods: '16' }, used: { pods: '3' } };
  }),
  limits: stored(limits, (x) => {
    x.spec = {
      limits: [
        {
          type: 'Container',
          default: { cpu: '500m', memory: '4Gi' },
          defaultRequest: { cpu: '500m', memory: '4Gi' },
          max: { cpu: '1', memory: '4Gi' },
          min: { cpu: '50m', memory: '100Mi' },
        },
      ],
    };
  }),
  binding: stored(binding),
  adminBinding: stored(adminBinding),
};

describe('contentDigest: the server rewriting our objects is no tampering', () => {
  const same: [string, Desired, Content][] = [
    [
      'a Namespace with the server label kubernetes.io/metadata.name, finalizers and status',
      namespace,
      served.namespace,
    ],
    [
      'a ResourceQuota with quantities in canonical form (1024Mi as 1Gi, 1000m as 1) and status',
      quota,
      served.quota,
    ],
    [
      'a LimitRange with the Container defaults filled in (default from max, defaultRequest from default)',
      limits,
      served.limits,
    ],
    ['a RoleBinding as stored', binding, served.binding],
    [
      'a RoleBinding whose subjects have the default apiGroup left out',
      binding,
      stored(binding, (x) => {
        for (const s of x.subjects as Subj[]) delete s.apiGroup;
        delete (x.roleRef as Subj).apiGroup;
      }),
    ],
    [
      'a ClusterRoleBinding whose subjects come in another order',
      { ...adminBinding, subjects: [{ apiGroup: RBAC, kind: 'User', name: 'u' }, ...subjects] } as Desired,
      stored(adminBinding, (x) => {
        x.subjects = [...(x.subjects as Subj[]), { kind: 'User', name: 'u' }];
      }),
    ],
    [
      'an annotation someone else added to a Namespace',
      namespace,
      stored(served.namespace as Desired, (x) => (annotations(x)['example.org/owner'] = 'team-a')),
    ],
    [
      'a label someone else added to a RoleBinding',
      binding,
      stored(binding, (x) => (labels(x)['example.org/tier'] = 'gold')),
    ],
    [
      'an empty quota the server stores without hard',
      { ...quota, spec: { hard: {} } } as Desired,
      stored(quota, (x) => (x.spec = {})),
    ],
  ];
  it.each(same)('%s', (_, desired, live) => {
    expect(contentDigest(live)).toBe(contentDigest(desired));
    expect(changedParts(item(live), desired)).toEqual([]);
  });
});

describe('contentDigest: tampering is found by content', () => {
  const changed: [string, Desired, Content, string[]][] = [
    [
      'a subject added to a RoleBinding',
      binding,
      stored(binding, (x) => (x.subjects as Subj[]).push({ apiGroup: RBAC, kind: 'User', name: 'tools.b' })),
      ['subjects'],
    ],
    [
      'a subject swapped on a ClusterRoleBinding',
      adminBinding,
      stored(
        adminBinding,
        (x) => (x.subjects = [{ apiGroup: RBAC, kind: 'Group', name: 'system:authenticated' }]),
      ),
      ['subjects'],
    ],
    [
      'the roleRef changed',
      adminBinding,
      stored(
        adminBinding,
        (x) => (x.roleRef = { apiGroup: RBAC, kind: 'ClusterRole', name: 'cluster-admin' }),
      ),
      ['roleRef'],
    ],
    [
      'a quota raised',
      quota,
      stored(served.quota as Desired, (x) => (spec<QuotaSpec>(x).hard.pods = '1000')),
      ['spec'],
    ],
    [
      'a resource added to a quota',
      quota,
      stored(served.quota as Desired, (x) => (spec<QuotaSpec>(x).hard['count/secrets'] = '1')),
      ['spec'],
    ],
    [
      'a scope added to a quota (it would then count almost nothing)',
      quota,
      stored(served.quota as Desired, (x) => (spec<QuotaSpec>(x).scopes = ['BestEffort'])),
      ['spec'],
    ],
    [
      'a LimitRange maximum raised',
      limits,
      stored(served.limits as Desired, (x) => {
        (spec<{ limits: Limit[] }>(x).limits[0]!.max as Record<string, string>).memory = '64Gi';
      }),
      ['spec'],
    ],
    [
      'a LimitRange default that differs from the one the server would fill in',
      limits,
      stored(served.limits as Desired, (x) => {
        (spec<{ limits: Limit[] }>(x).limits[0]!.default as Record<string, string>).memory = '8Gi';
      }),
      ['spec'],
    ],
    [
      'the tenancy label removed from a Namespace',
      namespace,
      stored(served.namespace as Desired, (x) => delete labels(x).tenancy),
      ['labels'],
    ],
    [
      'the account label changed',
      namespace,
      stored(served.namespace as Desired, (x) => (labels(x)['kubeusers.io/account'] = 'bar')),
      ['labels'],
    ],
    [
      'a label under kubeusers.io/ someone else added',
      namespace,
      stored(served.namespace as Desired, (x) => (labels(x)['kubeusers.io/uid'] = '0')),
      ['labels'],
    ],
    [
      'the resources-version annotation changed',
      quota,
      stored(served.quota as Desired, (x) => (annotations(x)['kubeusers.io/resources-version'] = '9')),
      ['annotations'],
    ],
  ];
  it.each(changed)('%s', (_, desired, live, parts) => {
    expect(contentDigest(live)).not.toBe(contentDigest(desired));
    expect(changedParts(item(live), desired)).toEqual(parts);
  });

  it('is short: 22 characters', () => {
    expect(contentDigest(binding)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe('revertPlan: how to put an object back', () => {
  const cases: [string, Desired, Content, ReturnType<typeof revertPlan>][] = [
    [
      'nothing but an apply for a raised quota',
      quota,
      stored(quota, (x) => (spec<QuotaSpec>(x).hard.pods = '99')),
      { replace: false },
    ],
    [
      'a resource someone added to the quota is removed',
      quota,
      stored(served.quota as Desired, (x) => (spec<QuotaSpec>(x).hard['count/secrets'] = '1')),
      { replace: false, removals: { spec: { hard: { 'count/secrets': null } } } },
    ],
    [
      'a label under kubeusers.io/ someone added is removed, theirs elsewhere stay',
      namespace,
      stored(served.namespace as Desired, (x) => {
        labels(x)['kubeusers.io/extra'] = '0';
        labels(x)['example.org/tier'] = 'gold';
        annotations(x)['example.org/owner'] = 'team-a';
      }),
      { replace: false, removals: { metadata: { labels: { 'kubeusers.io/extra': null } } } },
    ],
    [
      'a subject added goes with the apply (subjects is an atomic list)',
      binding,
      stored(binding, (x) => (x.subjects as Subj[]).push({ apiGroup: RBAC, kind: 'User', name: 'b' })),
      { replace: false },
    ],
    [
      'a changed roleRef means delete and create (it is immutable)',
      adminBinding,
      stored(
        adminBinding,
        (x) => (x.roleRef = { apiGroup: RBAC, kind: 'ClusterRole', name: 'cluster-admin' }),
      ),
      { replace: true },
    ],
    [
      'a roleRef with the default apiGroup left out is the same roleRef',
      binding,
      stored(binding, (x) => delete (x.roleRef as Subj).apiGroup),
      { replace: false },
    ],
    [
      'quota scopes someone added mean delete and create (they are immutable)',
      quota,
      stored(served.quota as Desired, (x) => (spec<QuotaSpec>(x).scopes = ['BestEffort'])),
      { replace: true },
    ],
  ];
  it.each(cases)('%s', (_, desired, live, plan) => {
    expect(revertPlan(item(live), desired)).toEqual(plan);
  });
});
