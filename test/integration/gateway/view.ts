// The view the admin API's credential reviews read, for these tests, with two test controls: wait
// until it has seen a change, and pretend it lost its watch.
import * as k8s from '@kubernetes/client-node';
import type { AccountKind } from '../../../src/directory/account.ts';
import type { CredentialView } from '../../../src/api/review.ts';
import { parseState, type AccountState } from '../../../src/cluster/state.ts';
import { adminKubeConfig } from '../../env/index.ts';
import type { Scenario } from '../support.ts';

export interface TestView extends CredentialView {
  /** Resolves once the view holds a state of the account for which `ok` is true. */
  seen(kind: AccountKind, name: string, ok: (s: AccountState) => boolean): Promise<void>;
  pretendUnsynced(on: boolean): void;
  close(): Promise<void>;
}

/** Interim: the states listed on demand (replaced by the cluster cache once it is merged). */
export async function accountsView(s: Scenario): Promise<TestView> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  const ns = s.settings.kubernetes.namespace;
  let states: AccountState[] = [];
  const refresh = async (): Promise<void> => {
    const list = await core.listNamespacedConfigMap({
      namespace: ns,
      labelSelector: 'kubeusers.io/role=state',
    });
    states = list.items.map(parseState).filter((x): x is AccountState => x !== undefined);
  };
  await refresh();
  let unsynced = false;
  const find = (kind: AccountKind, name: string) => states.find((x) => x.kind === kind && x.name === name);
  return {
    synced: () => !unsynced,
    state: find,
    byFingerprint: (fp) => states.find((x) => x.fingerprint === fp),
    seen: async (kind, name, ok) => {
      for (let i = 0; i < 600; i++) {
        await refresh();
        const st = find(kind, name);
        if (st && ok(st)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${kind}/${name}: change not seen`);
    },
    pretendUnsynced: (on) => {
      unsynced = on;
    },
    close: () => Promise.resolve(),
  };
}
