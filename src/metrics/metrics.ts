// kubeusers' own Prometheus registry. Per-account series are computed from the last known state at
// scrape time (never pushed), with a bounded label set: kind and name.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { AccountState } from '../model/state.ts';
import { stateRenewalTime, type RenewalPolicy } from '../model/renewal.ts';
import { perAccountPieces, perAccountSeries, perAccountText, type PerAccountFamily } from './per-account.ts';

/** What the metrics read of a sync's result (reconcile's SyncResult has this shape: metrics import nothing of reconcile's). */
export interface SyncOutcome {
  failures: readonly unknown[];
  directoryError?: string;
  skipped: readonly { kind: string; reason: string }[];
  guard?: { removals: number };
}

/** prom-client's registry, with the per-account families appended (per-account.ts). */
export class AccountsRegistry extends Registry {
  readonly #families: () => PerAccountFamily[];
  readonly #states: () => Iterable<AccountState>;

  constructor(families: () => PerAccountFamily[], states: () => Iterable<AccountState>) {
    super();
    this.#families = families;
    this.#states = states;
  }

  override async metrics(): Promise<string> {
    return `${await super.metrics()}\n${perAccountText(this.#families(), this.#states())}\n`;
  }

  /** The same text as `metrics()`, in pieces for a response to stream (per-account.ts says why). */
  async *pieces(): AsyncGenerator<string> {
    yield `${await super.metrics()}\n`;
    yield* perAccountPieces(this.#families(), this.#states());
    yield '\n';
  }

  override async getMetricsAsJSON(): ReturnType<Registry['getMetricsAsJSON']> {
    const own = perAccountSeries(this.#families(), this.#states());
    return [
      ...(await super.getMetricsAsJSON()),
      ...(own as unknown as Awaited<ReturnType<Registry['getMetricsAsJSON']>>),
    ];
  }
}

export class Metrics {
  readonly registry: AccountsRegistry = new AccountsRegistry(
    () => this.#perAccount,
    () => this.#states.values(),
  );
  #states = new Map<string, AccountState>();
  readonly #perAccount: PerAccountFamily[];
  readonly #clock: Clock;

  readonly syncRuns = new Counter({
    name: 'kubeusers_sync_runs_total',
    help: 'Sync runs by mode and outcome.',
    labelNames: ['mode', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly syncDuration = new Histogram({
    name: 'kubeusers_sync_duration_seconds',
    help: 'Duration of sync runs.',
    labelNames: ['mode'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: 'kubeusers_sync_last_success_timestamp_seconds',
    help: 'When a sync last finished with no failure.',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });
  readonly issuance = new Histogram({
    name: 'kubeusers_issuance_duration_seconds',
    help: 'CSR created to certificate written.',
    labelNames: ['kind'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly issued = new Counter({
    name: 'kubeusers_certificates_issued_total',
    help: 'Certificates issued or adopted, by reason.',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'kubeusers_failures_total',
    help: 'Failed account operations, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly skipped = new Counter({
    name: 'kubeusers_directory_skipped_entries_total',
    help: 'Directory entries skipped, by reason (counted each sync).',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly skippedNow = new Gauge({
    name: 'kubeusers_directory_skipped_entries',
    help: 'Directory entries skipped in the last sync, by reason.',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly notYetValid = new Counter({
    name: 'kubeusers_certificate_not_yet_valid_total',
    help: 'Certificates found not valid yet (starting after now), by where: home, state or signer. Each was replaced or refused.',
    labelNames: ['kind', 'source'] as const,
    registers: [this.registry],
  });
  readonly clockSkew = new Gauge({
    name: 'kubeusers_certificate_clock_skew_seconds',
    help: 'How far the start of the last not-yet-valid certificate was ahead of this clock, by where it was found.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly guardTrips = new Counter({
    name: 'kubeusers_removal_guard_trips_total',
    help: 'Syncs whose removals the guard held back.',
    registers: [this.registry],
  });
  readonly guardHeld = new Gauge({
    name: 'kubeusers_removal_guard_held_accounts',
    help: 'Removals held back by the guard in the last sync (0 when none).',
    registers: [this.registry],
  });
  readonly tamperingReverted = new Counter({
    name: 'kubeusers_tampering_reverted_total',
    help: 'Objects of kubeusers found changed by someone else and put back, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly revocations = new Counter({
    name: 'kubeusers_revocations_total',
    help: 'Credentials revoked.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly eventsQueued = new Gauge({
    name: 'kubeusers_events_queued',
    help: 'Events waiting for the API server (queued, retried with backoff).',
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'kubeusers_events_dropped_total',
    help: 'Events given up, by reason: overflow (the bounded queue was full), refused (the API server will never take it), too-old.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'kubeusers_leader',
    help: '1 when this replica holds the lease and writes.',
    registers: [this.registry],
  });
  readonly directoryUp = new Gauge({
    name: 'kubeusers_directory_up',
    help: '1 when the last directory read succeeded.',
    registers: [this.registry],
  });

  constructor(policy: RenewalPolicy, clock: Clock) {
    this.#clock = clock;
    const states = (): Iterable<AccountState> => this.#states.values();
    const renewal = (s: AccountState): number | undefined => {
      const at = stateRenewalTime(s, policy);
      return at && at.getTime() / 1000;
    };
    this.#perAccount = [
      {
        name: 'kubeusers_certificate_expiration_timestamp_seconds',
        help: "The notAfter of each account's current certificate.",
        value: (s) => s.notAfter && s.notAfter.getTime() / 1000,
      },
      {
        name: 'kubeusers_certificate_not_before_timestamp_seconds',
        help: "The notBefore of each account's current certificate.",
        value: (s) => s.notBefore && s.notBefore.getTime() / 1000,
      },
      {
        name: 'kubeusers_certificate_renewal_timestamp_seconds',
        help: "When each account's certificate is due for renewal.",
        value: renewal,
      },
    ];
    new Gauge({
      name: 'kubeusers_accounts',
      help: 'Accounts by kind and state.',
      labelNames: ['kind', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const s of states())
          counts.set(`${s.kind}/${s.status}`, (counts.get(`${s.kind}/${s.status}`) ?? 0) + 1);
        for (const [k, n] of counts) {
          const [kind, state] = k.split('/') as [string, string];
          this.set({ kind, state }, n);
        }
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'kubeusers_process_' });
  }

  /** The states the per-account series are computed from: all of them after a gather… */
  setStates(states: readonly AccountState[] | ReadonlyMap<string, AccountState>): void {
    // A sync's states by account key (`kind/name`) are copied as they are: at 10,000 no keys made again.
    this.#states = isMap(states) ? new Map(states) : new Map(states.map((s) => [`${s.kind}/${s.name}`, s]));
  }

  /** …then each one as it is saved or forgotten. */
  stateSaved(state: AccountState): void {
    this.#states.set(`${state.kind}/${state.name}`, state);
  }

  stateRemoved(kind: string, name: string): void {
    this.#states.delete(`${kind}/${name}`);
  }

  recordSync(mode: string, result: SyncOutcome | undefined, seconds: number): void {
    const outcome = !result ? 'error' : result.failures.length || result.directoryError ? 'partial' : 'ok';
    this.syncRuns.inc({ mode, outcome });
    this.syncDuration.observe({ mode }, seconds);
    if (outcome === 'ok') this.lastSuccess.set({ mode }, this.#clock.now().getTime() / 1000);
    // A one-account sync saw one account: the gauges of all stay as the last full sync set them.
    if (result && mode !== 'one') this.#recordResult(mode, result);
  }

  #recordResult(mode: string, result: SyncOutcome): void {
    if (mode !== 'renew') this.directoryUp.set(result.directoryError ? 0 : 1);
    this.skippedNow.reset();
    for (const s of result.skipped) {
      this.skipped.inc({ kind: s.kind, reason: s.reason });
      this.skippedNow.inc({ kind: s.kind, reason: s.reason });
    }
    if (result.guard) this.guardTrips.inc();
    if (mode === 'sync') this.guardHeld.set(result.guard?.removals ?? 0);
  }
}

const isMap = <K, V>(x: readonly V[] | ReadonlyMap<K, V>): x is ReadonlyMap<K, V> => x instanceof Map;
