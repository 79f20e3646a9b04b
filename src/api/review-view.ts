// The credential review's view of the accounts, over the cluster cache: states by name as the cache
// keeps them, and an index by certificate fingerprint rebuilt after the cache changes (a review must
// not walk every state).
import type { AccountKind } from '../directory/account.ts';
import type { AccountState } from '../cluster/state.ts';
import type { CredentialView } from './review.ts';

/** The part of ClusterCache (src/cluster/cache.ts) a review reads. */
export interface StateSource {
  synced(): boolean;
  state(kind: AccountKind, name: string): AccountState | undefined;
  states(): AccountState[];
  onChange(listener: () => void): () => void;
}

export function cacheView(source: StateSource): CredentialView & { close: () => void } {
  let index: Map<string, AccountState> | undefined;
  const close = source.onChange(() => {
    index = undefined;
  });
  const build = (): Map<string, AccountState> => {
    const m = new Map<string, AccountState>();
    for (const s of source.states()) if (s.fingerprint) m.set(s.fingerprint, s);
    return m;
  };
  return {
    synced: () => source.synced(),
    state: (kind, name) => source.state(kind, name),
    byFingerprint: (fingerprint) => (index ??= build()).get(fingerprint),
    close,
  };
}

/** Before the cache is there (one-shot commands, tests of other parts): nothing is known, so 503. */
export const unknownView: CredentialView = {
  synced: () => false,
  state: () => undefined,
  byFingerprint: () => undefined,
};
