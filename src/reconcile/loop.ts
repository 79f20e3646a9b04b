// The daemon's schedule: a sync every interval, a renewal sweep on a cron schedule, never two runs
// at once, and a drain on stop.
import { schedule, validate, type ScheduledTask } from 'node-cron';
import { accountKey, type ChangedEntry } from '../model/account.ts';
import type { Logger } from '../log.ts';
import { runSync, type SyncDeps, type SyncOptions, type SyncResult } from './sync.ts';

export interface LoopOptions {
  intervalMs: number;
  /** Poll the directory for changes this often (0: never); a change starts a sync at once. */
  watchMs?: number;
  renewalCron: string;
  confirmRemovals?: boolean;
}

export type ResultListener = (
  mode: SyncOptions['mode'],
  result: SyncResult | undefined,
  seconds: number,
) => void;

/**
 * Whether the directory could not be read since the last good sync, and whether the watch still
 * owes a sync for that: a sync that failed on LDAP (a rotated bind password, an outage) is run again
 * as soon as the watch reads the directory again, once per outage, not one interval later.
 */
export interface DirectoryHealth {
  down: boolean;
  owed: boolean;
}

export type DirectoryLook = 'watch-failed' | 'watch-ok' | 'sync-failed' | 'sync-ok';

export interface HealthStep {
  health: DirectoryHealth;
  syncNow: boolean;
  /** Said once per outage: when it starts, and when the watch sees the directory again. */
  say?: 'down' | 'up';
}

export function nextDirectoryHealth(h: DirectoryHealth, look: DirectoryLook): HealthStep {
  const failed = look === 'watch-failed' || look === 'sync-failed';
  if (failed && !h.down) return { health: { down: true, owed: true }, syncNow: false, say: 'down' };
  if (look === 'sync-ok') return { health: { down: false, owed: false }, syncNow: false };
  if (look === 'watch-ok' && h.owed) return { health: { down: true, owed: false }, syncNow: true, say: 'up' };
  return { health: h, syncNow: false };
}

/** What a look at the directory starts: a full sync, or a one-account sync per changed entry. */
export interface WatchRuns {
  full: boolean;
  accounts: string[];
}

/**
 * A full sync when the directory answers again after an outage or a member left the admin group
 * (a removal: only a full read, with its guard, decides one); otherwise one sync per changed account,
 * each reading one entry. A full sync covers every account, so it replaces them.
 */
export function watchRuns(changes: ChangedEntry[], recovered: boolean): WatchRuns {
  if (recovered || changes.some((c) => c.left)) return { full: true, accounts: [] };
  return { full: false, accounts: [...new Set(changes.map((c) => accountKey(c.kind, c.name)))].sort() };
}

export class SyncLoop {
  readonly #deps: SyncDeps;
  readonly #opts: LoopOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #task: ScheduledTask | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  readonly #listeners: ResultListener[] = [];

  constructor(deps: SyncDeps, opts: LoopOptions) {
    if (!validate(opts.renewalCron))
      throw new Error(`sync.renewalCron "${opts.renewalCron}" is not a valid cron schedule`);
    this.#deps = deps;
    this.#opts = opts;
    this.#log = deps.log;
  }

  onResult(listener: ResultListener): void {
    this.#listeners.push(listener);
  }

  #watchTimer: NodeJS.Timeout | undefined;
  /** The look in flight, awaited on stop before the directory's kept connection is closed. */
  #looking: Promise<void> = Promise.resolve();
  #pending = false;
  /** One-account syncs queued and not started yet: a change seen again meanwhile adds nothing. */
  readonly #queued = new Set<string>();
  #health: DirectoryHealth = { down: false, owed: false };

  /** Between syncs, a cheap look for changed entries; each starts a sync of its account now. */
  #watch(): void {
    const ms = this.#opts.watchMs ?? 0;
    if (this.#stopped || ms <= 0) return;
    this.#watchTimer = setTimeout(() => {
      this.#looking = this.#deps.directory
        .changes(this.#deps.clock.now())
        .then(
          (changes) => {
            if (this.#stopped) return;
            const runs = watchRuns(changes, this.#look('watch-ok'));
            if (runs.full) this.#full();
            for (const key of runs.accounts) this.#one(key);
          },
          // A look still in flight when the loop stopped (its server stopped too) says nothing.
          (err: unknown) => void (this.#stopped || this.#look('watch-failed', err)),
        )
        .finally(() => this.#watch());
    }, ms);
  }

  #full(): void {
    if (this.#pending) return;
    this.#pending = true;
    void this.trigger({ mode: 'sync' }).finally(() => (this.#pending = false));
  }

  #one(key: string): void {
    if (this.#stopped || this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#running = this.#running.then(() => {
      this.#queued.delete(key);
      return this.#once({ mode: 'sync', only: new Set([key]) });
    });
  }

  /** Records a look at the directory; true when a sync is owed now. */
  #look(look: DirectoryLook, err?: unknown): boolean {
    const step = nextDirectoryHealth(this.#health, look);
    this.#health = step.health;
    if (step.say === 'down')
      this.#log.warn(
        {
          action: 'directory',
          err: err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error',
        },
        'the directory cannot be read: nothing is removed; the first good look syncs at once',
      );
    if (step.say === 'up')
      this.#log.info({ action: 'directory' }, 'the directory answers again: syncing now');
    return step.syncNow;
  }

  start(): void {
    this.#watch();
    this.#task = schedule(this.#opts.renewalCron, () => this.trigger({ mode: 'renew' }));
    this.#tick();
  }

  /** Queues a run after whatever is running now. */
  trigger(options: SyncOptions): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#running = this.#running.then(() => this.#once(options));
    return this.#running;
  }

  #tick(): void {
    if (this.#stopped) return;
    void this.trigger({
      mode: 'sync',
      ...(this.#opts.confirmRemovals ? { confirmRemovals: true } : {}),
    }).finally(() => {
      if (!this.#stopped) this.#timer = setTimeout(() => this.#tick(), this.#opts.intervalMs);
    });
  }

  /**
   * A sync that could not read the directory starts an outage; only a full sync that could ends it:
   * one account read well does not pay for the full sync owed since the outage.
   */
  #syncLooked(options: SyncOptions, result: SyncResult): void {
    if (result.directoryError) this.#look('sync-failed', result.directoryError);
    else if (!options.only) this.#look('sync-ok');
  }

  #finished(options: SyncOptions, result: SyncResult, seconds: number): void {
    const level = result.failures.length || result.guard || result.directoryError ? 'warn' : 'info';
    this.#log[level](
      {
        action: options.mode,
        ...(options.only ? { accounts: [...options.only] } : {}),
        ...(result.undecided ? { undecided: result.undecided } : {}),
        changes: result.done.length,
        failures: result.failures.length,
        guard: result.guard,
        directoryError: result.directoryError,
        seconds,
      },
      `${options.mode} finished`,
    );
  }

  async #once(options: SyncOptions): Promise<void> {
    const started = performance.now();
    try {
      const result = await runSync(this.#deps, options);
      const seconds = (performance.now() - started) / 1000;
      for (const l of this.#listeners) l(options.mode, result, seconds);
      if (options.mode === 'sync') this.#syncLooked(options, result);
      // What one entry's read could not decide (gone, no longer an admin) goes to a full read now.
      if (result.undecided?.length) this.#full();
      this.#finished(options, result, seconds);
    } catch (err) {
      const seconds = (performance.now() - started) / 1000;
      for (const l of this.#listeners) l(options.mode, undefined, seconds);
      this.#log.error(
        { action: options.mode, err: (err as Error).message, seconds },
        `${options.mode} failed`,
      );
    }
  }

  /** Stops scheduling and waits for the run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#watchTimer);
    await this.#task?.stop();
    await this.#running;
    await this.#looking;
    await this.#deps.directory.close?.();
  }
}
