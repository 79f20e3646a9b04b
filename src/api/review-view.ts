// The credential review's view of the accounts, over the cluster cache: states by name as the cache
// keeps them, and an index by certificate fingerprint rebuilt after a state changes (a review must
// not walk every state).
import type { AccountKind } from '../model/account.ts';
import type { AccountState } from '../model/state.ts';
import type { CredentialView } from './review.ts';

/** What a view is told of a change: the watched kind (`state` for states) and the account. */
export interface StateChange {
  kind: string;
  type: string;
  account?: { kind: AccountKind; name: string };
}

/** The part of ClusterCache (src/cluster/cache.ts) a review reads. */
export interface StateSource {
  synced(): boolean;
  state(kind: AccountKind, name: string): AccountState | undefined;
  states(): AccountState[];
  onChange(listener: (change: StateChange) => void): () => void;
}

export interface CacheView extends CredentialView {
  /**
   * Resolves true once the view holds a state of the account for which `ok` is true, false after
   * `timeoutMs`: the admin API answers a revocation once this replica's own reviews refuse it.
   */
  caughtUp(
    kind: AccountKind,
    name: string,
    ok: (s: AccountState) => boolean,
    timeoutMs: number,
  ): Promise<boolean>;
}

const affectsStates = (c: StateChange): boolean => c.kind === 'state' || c.type === 'RELISTED';

export function cacheView(source: StateSource): CacheView {
  let index: Map<string, AccountState> | undefined;
  source.onChange((c) => {
    if (affectsStates(c)) index = undefined;
  });
  const build = (): Map<string, AccountState> => {
    const m = new Map<string, AccountState>();
    for (const s of source.states()) if (s.fingerprint) m.set(s.fingerprint, s);
    return m;
  };
  const holds = (kind: AccountKind, name: string, ok: (s: AccountState) => boolean): boolean => {
    const s = source.state(kind, name);
    return s !== undefined && ok(s);
  };
  return {
    synced: () => source.synced(),
    state: (kind, name) => source.state(kind, name),
    byFingerprint: (fingerprint) => (index ??= build()).get(fingerprint),
    caughtUp: (kind, name, ok, timeoutMs) =>
      new Promise<boolean>((resolve) => {
        if (holds(kind, name, ok)) {
          resolve(true);
          return;
        }
        const done = (result: boolean): void => {
          clearTimeout(timer);
          stop();
          resolve(result);
        };
        const stop = source.onChange((c) => {
          if (affectsStates(c) && holds(kind, name, ok)) done(true);
        });
        const timer = setTimeout(() => done(false), timeoutMs);
      }),
  };
}
