// Cluster snapshots compared regardless of order (a list is ordered by name, the cache by arrival).
import type { ClusterSnapshot } from '../../../src/reconcile/gather.ts';
import { allObjects, type ObservedObject } from '../../../src/model/observed.ts';

export function sorted(snap: ClusterSnapshot): {
  states: ClusterSnapshot['states'];
  objects: ObservedObject[];
  csrs: ClusterSnapshot['csrs'];
} {
  const by =
    <T>(key: (t: T) => string) =>
    (a: T, b: T) =>
      key(a).localeCompare(key(b));
  return {
    states: [...snap.states].sort(by((x) => `${x.kind}/${x.name}`)),
    objects: allObjects(snap.objects).sort(by((o) => `${o.kind}/${o.namespace ?? ''}/${o.name}`)),
    csrs: [...snap.csrs].sort(by((c) => c.name)),
  };
}
