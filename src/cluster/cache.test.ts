import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Clients, Streamed } from './client.ts';
import { makeLogger } from '../log.ts';
import { ClusterCache, type CacheChange } from './cache.ts';

/** Empty lists for every kind; each kind's watch fed by the test, by path. */
function fakeClients() {
  const watches = new Map<string, (line: unknown) => void>();
  const clients = {
    getJson: () => Promise.resolve({ metadata: { resourceVersion: '1' }, items: [] }),
    stream: (path: string, signal: AbortSignal): Promise<Streamed> => {
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          signal.addEventListener('abort', () => c.error(new Error('aborted')), { once: true });
          watches.set(path.split('?')[0]!, (o) =>
            c.enqueue(new TextEncoder().encode(`${JSON.stringify(o)}\n`)),
          );
        },
      });
      return Promise.resolve({ status: 200, body });
    },
  } as unknown as Clients;
  return { clients, watches };
}

const RB = '/apis/rbac.authorization.k8s.io/v1/rolebindings';
const binding = (role: string, rv: string): KubernetesObject & Record<string, unknown> => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name: 'kubeusers-tool', namespace: 'tool-a', resourceVersion: rv },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
  subjects: [],
});
const ref = { kind: 'RoleBinding', name: 'kubeusers-tool', namespace: 'tool-a' };

type Step =
  | { write: 'apply'; object: KubernetesObject }
  | { write: 'delete' }
  | { event: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubernetesObject; foreign: boolean };

describe('ClusterCache foreign', () => {
  const cases: [string, Step[]][] = [
    [
      // revert.ts on a roleRef change: the apply of the new binding is announced before the delete's event.
      'our delete then create, both announced before either event',
      [
        { write: 'apply', object: binding('old', '2') },
        { event: 'ADDED', object: binding('old', '2'), foreign: false },
        { write: 'delete' },
        { write: 'apply', object: binding('new', '4') },
        { event: 'DELETED', object: binding('old', '3'), foreign: false },
        { event: 'ADDED', object: binding('new', '4'), foreign: false },
      ],
    ],
    [
      'a deletion by someone else is foreign',
      [
        { write: 'apply', object: binding('old', '2') },
        { event: 'ADDED', object: binding('old', '2'), foreign: false },
        { event: 'DELETED', object: binding('old', '3'), foreign: true },
      ],
    ],
    [
      // The expectations are dropped with the object: the map holds live objects only.
      'once a deletion is seen nothing is expected: a re-creation by someone else is foreign',
      [
        { write: 'apply', object: binding('old', '2') },
        { event: 'ADDED', object: binding('old', '2'), foreign: false },
        { event: 'DELETED', object: binding('old', '3'), foreign: true },
        { event: 'ADDED', object: binding('old', '4'), foreign: true },
      ],
    ],
    [
      'a second deletion after ours was consumed is foreign',
      [
        { event: 'ADDED', object: binding('old', '2'), foreign: true },
        { write: 'delete' },
        { event: 'DELETED', object: binding('old', '3'), foreign: false },
        { event: 'ADDED', object: binding('x', '4'), foreign: true },
        { event: 'DELETED', object: binding('x', '5'), foreign: true },
      ],
    ],
  ];
  it.each(cases)('%s', async (_name, steps) => {
    const { clients, watches } = fakeClients();
    const cache = new ClusterCache({ clients, log: makeLogger('error'), ownNamespace: 'kubeusers' });
    const seen: CacheChange[] = [];
    const verdicts: boolean[] = [];
    cache.onChange((c) => {
      if (c.kind !== 'RoleBinding' || c.type === 'RELISTED') return;
      seen.push(c);
      verdicts.push(cache.foreign(c));
    });
    await cache.start();
    for (let i = 0; i < 500 && !(cache.synced() && watches.has(RB)); i++)
      await new Promise((r) => setTimeout(r, 5));
    const want: boolean[] = [];
    for (const s of steps) {
      if ('write' in s) {
        if (s.write === 'apply') cache.applying(s.object);
        else cache.deleting(ref);
        continue;
      }
      want.push(s.foreign);
      watches.get(RB)!({ type: s.event, object: s.object });
      for (let i = 0; i < 500 && seen.length < want.length; i++) await new Promise((r) => setTimeout(r, 5));
    }
    expect(verdicts).toEqual(want);
    await cache.stop();
  });
});
