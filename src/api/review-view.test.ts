import { describe, expect, it } from '@jest/globals';
import type { AccountKind } from '../model/account.ts';
import type { AccountState } from '../model/state.ts';
import { cacheView, type StateChange, type StateSource } from './review-view.ts';

const state = (name: string, mods: Partial<AccountState> = {}): AccountState => ({
  kind: 'tool',
  name,
  uid: `tools.${name}`,
  uidNumber: 5000,
  gidNumber: 5000,
  home: `/data/project/${name}`,
  epoch: 1,
  status: 'active',
  failures: 0,
  lastChange: new Date(0),
  ...mods,
});

/** A cache of our own: states set by the test, changes told to listeners as the cache would. */
class FakeSource implements StateSource {
  readonly map = new Map<string, AccountState>();
  readonly listeners = new Set<(c: StateChange) => void>();
  lists = 0;
  synced = (): boolean => true;
  state = (kind: AccountKind, name: string): AccountState | undefined => this.map.get(`${kind}/${name}`);
  states = (): AccountState[] => {
    this.lists++;
    return [...this.map.values()];
  };
  onChange(l: (c: StateChange) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  put(s: AccountState): void {
    this.map.set(`${s.kind}/${s.name}`, s);
    for (const l of this.listeners)
      l({ kind: 'state', type: 'MODIFIED', account: { kind: s.kind, name: s.name } });
  }
}

describe('cacheView', () => {
  it('finds a current certificate by fingerprint, indexing once per change of states', () => {
    const src = new FakeSource();
    src.put(state('web', { fingerprint: 'aa' }));
    const view = cacheView(src);
    expect(view.byFingerprint('aa')?.name).toBe('web');
    expect(view.byFingerprint('bb')).toBeUndefined();
    expect(src.lists).toBe(1);
    src.put(state('web', { fingerprint: 'bb' }));
    expect(view.byFingerprint('aa')).toBeUndefined();
    expect(view.byFingerprint('bb')?.name).toBe('web');
    expect(src.lists).toBe(2);
  });

  it('says when the view has caught up with a change, or that it has not within the time', async () => {
    const src = new FakeSource();
    src.put(state('web'));
    const view = cacheView(src);
    const waiting = view.caughtUp('tool', 'web', (s) => s.epoch > 1, 60_000);
    src.put(state('other', { epoch: 5 }));
    src.put(state('web', { epoch: 2 }));
    await expect(waiting).resolves.toBe(true);
    expect(src.listeners.size).toBe(1);
    await expect(view.caughtUp('tool', 'web', (s) => s.epoch > 1, 60_000)).resolves.toBe(true);
    await expect(view.caughtUp('tool', 'web', (s) => s.epoch > 2, 1)).resolves.toBe(false);
    expect(src.listeners.size).toBe(1);
  });
});
