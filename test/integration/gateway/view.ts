// The view the admin API's credential reviews read: the scenario's real cluster cache, with two test
// controls: wait until it has seen a change, and pretend it lost its watches.
import type { AccountKind } from '../../../src/model/account.ts';
import type { AccountState } from '../../../src/model/state.ts';
import { cacheView, type CacheView } from '../../../src/api/review-view.ts';
import type { Scenario } from '../support.ts';

export interface TestView extends CacheView {
  /** Resolves once the cache holds a state of the account for which `ok` is true. */
  seen(kind: AccountKind, name: string, ok: (s: AccountState) => boolean): Promise<void>;
  pretendUnsynced(on: boolean): void;
  close(): Promise<void>;
}

export async function accountsView(s: Scenario): Promise<TestView> {
  await s.app.cache.start();
  const real = cacheView(s.app.cache);
  let unsynced = false;
  return {
    ...real,
    synced: () => !unsynced && real.synced(),
    seen: async (kind, name, ok) => {
      if (!(await real.caughtUp(kind, name, ok, 60_000))) throw new Error(`${kind}/${name}: change not seen`);
    },
    pretendUnsynced: (on) => {
      unsynced = on;
    },
    close: () => s.app.cache.stop(),
  };
}
