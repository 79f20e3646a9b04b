import { describe, expect, it } from '@jest/globals';
import {
  coreApi,
  MERGE_PATCH,
  objectsApi,
  PathSegmentError,
  query,
  rbacApi,
  SERVER_SIDE_APPLY,
  type Call,
} from './apis.ts';

/** The requests an API makes, answered with `{}` (or discovery's answer). */
function recorder(answer: (path: string) => unknown = () => ({})) {
  const sent: unknown[][] = [];
  const call = ((method: string, path: string, body?: unknown, type?: string) => {
    sent.push([method, path, body, type].filter((x) => x !== undefined));
    return Promise.resolve(answer(path));
  }) as Call;
  return { sent, call };
}

describe('objectsApi', () => {
  it("sends a LimitRange's `default` as it is (client-node's model lost it: issue 13)", async () => {
    const r = recorder();
    const limitRange = {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'kubeusers', namespace: 'tool-a' },
      spec: { limits: [{ type: 'Container', default: { cpu: '1' } }] },
    };
    await objectsApi(r.call).patch(limitRange, undefined, undefined, 'kubeusers', true, SERVER_SIDE_APPLY);
    expect(r.sent).toEqual([
      [
        'PATCH',
        '/api/v1/namespaces/tool-a/limitranges/kubeusers?fieldManager=kubeusers&force=true',
        limitRange,
        SERVER_SIDE_APPLY,
      ],
    ]);
  });

  const cases: [string, Record<string, unknown>, string][] = [
    [
      'a cluster-scoped kind',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tool-a' } },
      '/api/v1/namespaces/tool-a',
    ],
    [
      'a grouped kind',
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'x' } },
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x',
    ],
  ];
  it.each(cases)('merge patch and delete of %s', async (_, object, path) => {
    const r = recorder();
    const api = objectsApi(r.call);
    await api.patch(object, undefined, undefined, 'kubeusers', undefined, MERGE_PATCH);
    await api.delete(object);
    expect(r.sent).toEqual([
      ['PATCH', `${path}?fieldManager=kubeusers`, object, MERGE_PATCH],
      ['DELETE', path],
    ]);
  });

  it('finds a kind it does not know in the API discovery, once', async () => {
    const r = recorder((p) =>
      p === '/apis/example.org/v1'
        ? {
            resources: [
              { name: 'things/status', kind: 'Thing', namespaced: true },
              { name: 'things', kind: 'Thing', namespaced: true },
            ],
          }
        : {},
    );
    const api = objectsApi(r.call);
    const thing = { apiVersion: 'example.org/v1', kind: 'Thing', metadata: { name: 'a', namespace: 'n' } };
    await api.delete(thing);
    await api.delete(thing);
    expect(r.sent.map((s) => s.slice(0, 2))).toEqual([
      ['GET', '/apis/example.org/v1'],
      ['DELETE', '/apis/example.org/v1/namespaces/n/things/a'],
      ['DELETE', '/apis/example.org/v1/namespaces/n/things/a'],
    ]);
  });
});

describe('coreApi and query', () => {
  it('places path parameters escaped and list parameters in the query', async () => {
    const r = recorder();
    await coreApi(r.call).listNamespacedConfigMap({
      namespace: 'a b',
      labelSelector: 'x=y',
      limit: 5,
      _continue: 'c',
    });
    expect(r.sent).toEqual([
      ['GET', '/api/v1/namespaces/a%20b/configmaps?labelSelector=x%3Dy&limit=5&continue=c'],
    ]);
  });

  it('leaves out what is unset and what is no query parameter', () => {
    expect(query({ namespace: 'n', name: 'x', labelSelector: undefined })).toBe('');
  });
});

describe('path segments: no name changes the path', () => {
  const names: [string, unknown][] = [
    ['empty', ''],
    ['.', '.'],
    ['..', '..'],
    ['undefined', undefined],
    ['a number', 5],
  ];
  it.each(names)('%s is refused before any request', async (_, name) => {
    const r = recorder();
    const attempts = [
      () => coreApi(r.call).readNamespacedConfigMap({ namespace: 'ns', name: name as string }),
      () => coreApi(r.call).readNamespacedConfigMap({ namespace: name as string, name: 'x' }),
      () => rbacApi(r.call).deleteNamespacedRoleBinding({ namespace: 'ns', name: name as string }),
      () =>
        objectsApi(r.call).delete({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          // An unset namespace is `default`, as in client-node.
          metadata: { name: 'x', namespace: (name ?? '') as string },
        }),
    ];
    for (const attempt of attempts)
      await expect(Promise.resolve().then(attempt)).rejects.toBeInstanceOf(PathSegmentError);
    expect(r.sent).toEqual([]);
  });

  it('an apiVersion that is not one is refused', async () => {
    const r = recorder();
    const spec = { apiVersion: '../../api/v1', kind: 'Thing', metadata: { name: 'x' } };
    await expect(objectsApi(r.call).delete(spec)).rejects.toBeInstanceOf(PathSegmentError);
    expect(r.sent).toEqual([]);
  });
});
