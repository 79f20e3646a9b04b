import { describe, expect, it } from '@jest/globals';
import type { ChangedEntry, Directory } from '../model/account.ts';
import type { SyncDeps } from './sync.ts';
import {
  nextDirectoryHealth,
  SyncLoop,
  watchRuns,
  type DirectoryHealth,
  type DirectoryLook,
  type HealthStep,
  type WatchRuns,
} from './loop.ts';

const up: DirectoryHealth = { down: false, owed: false };
const downOwed: DirectoryHealth = { down: true, owed: true };
const downPaid: DirectoryHealth = { down: true, owed: false };

describe('nextDirectoryHealth', () => {
  const cases: [string, DirectoryHealth, DirectoryLook, HealthStep][] = [
    ['all well stays well', up, 'watch-ok', { health: up, syncNow: false }],
    ['a good sync while well', up, 'sync-ok', { health: up, syncNow: false }],
    [
      'a failed look starts an outage, said once, a sync owed',
      up,
      'watch-failed',
      { health: downOwed, syncNow: false, say: 'down' },
    ],
    [
      'a sync that could not read LDAP starts one too',
      up,
      'sync-failed',
      { health: downOwed, syncNow: false, say: 'down' },
    ],
    ['more failures say nothing more', downOwed, 'watch-failed', { health: downOwed, syncNow: false }],
    [
      'a failed sync during the outage says nothing more',
      downOwed,
      'sync-failed',
      { health: downOwed, syncNow: false },
    ],
    [
      'the first good look pays the owed sync, and says so',
      downOwed,
      'watch-ok',
      { health: downPaid, syncNow: true, say: 'up' },
    ],
    [
      'if that sync fails too, good looks owe nothing more (the interval retries, no sync every second)',
      downPaid,
      'watch-ok',
      { health: downPaid, syncNow: false },
    ],
    ['nor does the failed sync itself', downPaid, 'sync-failed', { health: downPaid, syncNow: false }],
    ['a good sync ends the outage', downOwed, 'sync-ok', { health: up, syncNow: false }],
    ['a good sync after the paid one ends it too', downPaid, 'sync-ok', { health: up, syncNow: false }],
  ];
  it.each(cases)('%s', (_, health, look, want) => expect(nextDirectoryHealth(health, look)).toEqual(want));
});

describe('watchRuns', () => {
  const tool = (name: string): ChangedEntry => ({ kind: 'tool', name });
  const cases: [string, ChangedEntry[], boolean, WatchRuns][] = [
    ['nothing changed, nothing runs', [], false, { full: false, accounts: [] }],
    [
      'each changed account gets its own sync',
      [tool('b'), tool('a')],
      false,
      { full: false, accounts: ['tool/a', 'tool/b'] },
    ],
    [
      'an account changed twice syncs once',
      [tool('a'), tool('a')],
      false,
      { full: false, accounts: ['tool/a'] },
    ],
    [
      'an admin added to the group is a one-account sync',
      [{ kind: 'admin', name: 'ann' }],
      false,
      { full: false, accounts: ['admin/ann'] },
    ],
    [
      'a member taken out of the admin group is a removal: a full read decides',
      [tool('a'), { kind: 'admin', name: 'ann', left: true }],
      false,
      { full: true, accounts: [] },
    ],
    [
      'the directory answers again after an outage: a full sync',
      [tool('a')],
      true,
      { full: true, accounts: [] },
    ],
  ];
  it.each(cases)('%s', (_, changes, recovered, want) => expect(watchRuns(changes, recovered)).toEqual(want));
});

describe('SyncLoop.stop', () => {
  it("closes the directory's kept connection once the look in flight is done", async () => {
    const said: string[] = [];
    let answer: (changes: ChangedEntry[]) => void = () => undefined;
    const directory: Pick<Directory, 'changes' | 'close'> = {
      changes: () => {
        said.push('look');
        return new Promise((resolve) => (answer = resolve));
      },
      close: () => {
        said.push('close');
        return Promise.resolve();
      },
    };
    const quiet = (): void => undefined;
    const log = { debug: quiet, info: quiet, warn: quiet, error: quiet };
    const deps = { directory, log, clock: { now: () => new Date(0) } };
    const loop = new SyncLoop(deps as unknown as SyncDeps, {
      intervalMs: 3_600_000,
      watchMs: 1,
      renewalCron: '0 0 1 1 *',
    });
    // Its first full sync fails at once on these fakes (logged); the watch goes on looking.
    loop.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stopped = loop.stop();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(said).toEqual(['look']);
    answer([]);
    await stopped;
    expect(said).toEqual(['look', 'close']);
  });
});
