// Kubernetes Events: what an operator sees with `kubectl get events`, beside the logs. core/v1 Events,
// because their timestamps take RFC 3339 as client-node writes it (events.k8s.io wants microseconds).
//
// An Event is the record of something already done (a certificate in a home, a revocation), so it
// must outlive a moment without the API: the recorder queues it (bounded), retries with backoff, and
// gives it the name it will keep, so that a retry after a lost answer finds it created (409) instead
// of recording it twice.
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Clients } from './client.ts';
import type { Clock } from '../clock.ts';
import { describeError, statusOf } from './errors.ts';
import type { Logger } from '../log.ts';

export interface EventSpec {
  namespace: string;
  regarding: { apiVersion: string; kind: string; name: string; namespace?: string };
  reason: string;
  action: string;
  note: string;
  type?: 'Normal' | 'Warning';
}

/** Where events go: the recorder in the daemon and the commands; a direct write where none is given. */
export interface EventSink {
  record(e: EventSpec): Promise<void>;
}

/** The Event object, named once: every retry sends the same name. */
export function eventBody(e: EventSpec, now: Date, random = Math.random): CoreV1Event {
  const suffix = `${now.getTime().toString(16)}${Math.floor(random() * 0xffff).toString(16)}`;
  return {
    metadata: { name: `${e.regarding.name}.${suffix}`, namespace: e.namespace },
    involvedObject: e.regarding,
    reason: e.reason,
    action: e.action,
    message: e.note.slice(0, 1000),
    type: e.type ?? 'Normal',
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    source: { component: 'kubeusers' },
    reportingComponent: 'kubeusers.io/kubeusers',
    reportingInstance: 'kubeusers',
  };
}

/** One attempt, no retry: for callers that wait for the answer themselves. */
export async function recordEvent(clients: Clients, clock: Clock, e: EventSpec): Promise<void> {
  await clients.core.createNamespacedEvent({ namespace: e.namespace, body: eventBody(e, clock.now()) });
}

export interface EventDeps {
  clients: Clients;
  clock: Clock;
  log: Logger;
  recorder?: EventSink;
}

/** Through the recorder (queued, retried); without one, a single attempt whose failure is logged. */
export async function emitEvent(
  d: EventDeps,
  e: EventSpec,
  context: Record<string, unknown> = {},
): Promise<void> {
  if (d.recorder) return d.recorder.record(e);
  await recordEvent(d.clients, d.clock, e).catch((err: unknown) =>
    d.log.warn({ ...context, action: 'event', err: describeError(err) }, 'could not record an event'),
  );
}

export type Delivery = 'delivered' | 'retry' | 'drop';

/**
 * What a failed create means for the queued Event. No answer, throttling, a server error, or an
 * apiserver whose authorizer is still starting (401/403 right after a restart): try again. 409: an
 * earlier attempt created it. Anything else (the namespace is gone, the object is invalid): it will
 * never be accepted.
 */
export function deliveryOf(err: unknown): Delivery {
  const status = statusOf(err);
  if (status === undefined) return 'retry';
  if (status === 409) return 'delivered';
  if (status === 429 || status >= 500 || status === 401 || status === 403) return 'retry';
  return 'drop';
}

export interface RecorderSettings {
  /** Events waiting at most; beyond, the oldest is dropped (and counted). */
  maxQueued: number;
  /** Creates in flight at once. */
  workers: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** An Event older than this is dropped: the apiserver keeps Events for an hour by default. */
  maxAgeMs: number;
}

export const DEFAULT_RECORDER: RecorderSettings = {
  maxQueued: 2_000,
  workers: 4,
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  maxAgeMs: 3_600_000,
};

/** The wait before the next attempt after `failures` failed ones in a row: doubling, capped. */
export function retryDelayMs(failures: number, s: RecorderSettings): number {
  return Math.min(s.maxBackoffMs, s.initialBackoffMs * 2 ** Math.max(0, failures - 1));
}

export type DropReason = 'overflow' | 'refused' | 'too-old';

export interface RecorderObserver {
  queued?(n: number): void;
  dropped?(reason: DropReason): void;
}

interface Pending {
  namespace: string;
  body: CoreV1Event;
  at: number;
  /** Resolves the caller's wait: at delivery, or as soon as the Event has to wait for the API. */
  settle: () => void;
}

export interface RecorderDeps {
  send: (namespace: string, body: CoreV1Event) => Promise<void>;
  clock: Clock;
  log: Logger;
  settings?: RecorderSettings;
  observer?: RecorderObserver;
  /** Waits between attempts (a test passes its own). */
  sleep?: (ms: number) => Promise<void>;
}

const unrefSleep = (ms: number): Promise<void> =>
  new Promise((r) => {
    // A queue waiting for the API never keeps a finished one-shot command alive.
    setTimeout(r, ms).unref();
  });

type Attempt = { ok: true } | { ok: false; err: unknown };

export class EventRecorder implements EventSink {
  readonly #d: RecorderDeps;
  readonly #s: RecorderSettings;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #queue: Pending[] = [];
  #workers = 0;
  #inFlight = 0;
  /** Failed attempts in a row; above 0 the API is taken as unreachable and one line says so. */
  #failures = 0;
  #dropped = 0;
  #idle: (() => void)[] = [];

  constructor(d: RecorderDeps) {
    this.#d = d;
    this.#s = d.settings ?? DEFAULT_RECORDER;
    this.#sleep = d.sleep ?? unrefSleep;
  }

  /** Events not yet delivered (waiting or in flight). */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  /**
   * Queues the Event. The promise resolves once it is delivered, or at once when it has to wait for
   * the API (it is then delivered later): a caller never waits out an outage, and never sees an error.
   */
  record(e: EventSpec): Promise<void> {
    const now = this.#d.clock.now();
    if (this.#queue.length >= this.#s.maxQueued) {
      this.#queue.shift()?.settle();
      this.#drop('overflow');
    }
    return new Promise<void>((settle) => {
      this.#queue.push({ namespace: e.namespace, body: eventBody(e, now), at: now.getTime(), settle });
      if (this.#failures > 0) settle();
      this.#changed();
      if (this.#workers < this.#s.workers) {
        this.#workers++;
        void this.#work().finally(() => {
          this.#workers--;
          if (this.#workers === 0) for (const r of this.#idle.splice(0)) r();
        });
      }
    });
  }

  /** Waits until every queued Event is delivered or dropped, at most `timeoutMs`; returns how many are left. */
  async flush(timeoutMs: number): Promise<number> {
    if (this.#workers === 0) return this.pending;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((r) => this.#idle.push(r)),
      new Promise<void>((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
    return this.pending;
  }

  async #work(): Promise<void> {
    for (let p = this.#queue.shift(); p !== undefined; p = this.#queue.shift()) {
      this.#inFlight++;
      const attempt = await this.#d.send(p.namespace, p.body).then(
        (): Attempt => ({ ok: true }),
        (err: unknown): Attempt => ({ ok: false, err }),
      );
      this.#inFlight--;
      const delivery = attempt.ok ? 'delivered' : deliveryOf(attempt.err);
      const err = attempt.ok ? undefined : attempt.err;
      if (delivery === 'retry' && this.#d.clock.now().getTime() - p.at <= this.#s.maxAgeMs) {
        // Its caller goes on now: another worker's failure may have started the outage while this
        // one was in flight, and only what was queued then was let go.
        p.settle();
        this.#queue.unshift(p);
        this.#changed();
        this.#failed(err);
        await this.#sleep(retryDelayMs(this.#failures, this.#s));
        continue;
      }
      p.settle();
      this.#changed();
      if (delivery === 'delivered') this.#delivered();
      else if (delivery === 'retry') this.#drop('too-old');
      else {
        this.#drop('refused');
        this.#d.log.warn(
          { action: 'event', reason: p.body.reason, err: describeError(err) },
          'the API server refused an event; it is dropped',
        );
      }
    }
  }

  #changed(): void {
    this.#d.observer?.queued?.(this.pending);
  }

  #drop(reason: DropReason): void {
    this.#dropped++;
    this.#d.observer?.dropped?.(reason);
  }

  /** One line when events start waiting (their callers go on)… */
  #failed(err: unknown): void {
    if (this.#failures++ > 0) return;
    for (const p of this.#queue) p.settle();
    this.#d.log.warn(
      { action: 'event', queued: this.pending, err: describeError(err) },
      'events wait: the API server does not take them now; retrying with backoff',
    );
  }

  /** …and one when they flow again. */
  #delivered(): void {
    if (this.#failures === 0) return;
    this.#d.log.info(
      { action: 'event', failedAttempts: this.#failures, dropped: this.#dropped, queued: this.pending },
      'events are delivered again',
    );
    this.#failures = 0;
    this.#dropped = 0;
  }
}
