// Leader election on a coordination.k8s.io Lease: only the leader writes. A leader that cannot renew
// stops writing at its renew deadline, which comes before the lease expires for anyone else.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { microTime, rawJson } from './raw.ts';

interface LeaseSpecJson {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}

type LeaseJson = { metadata?: Record<string, unknown>; spec?: LeaseSpecJson };

export interface LeaderSettings {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface LeaderEvents {
  started(): void;
  stopped(): void;
}

export class LeaderElector {
  readonly #kc: KubeConfig;
  readonly #s: LeaderSettings;
  readonly #log: Logger;
  readonly #events: LeaderEvents;
  #leading = false;
  /** Monotonic time of the last successful acquire or renew. */
  #renewedAt = -Infinity;
  #holder: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(kc: KubeConfig, s: LeaderSettings, log: Logger, events: LeaderEvents) {
    this.#kc = kc;
    this.#s = s;
    this.#log = log;
    this.#events = events;
  }

  /** True only while this replica holds a lease it renewed within the renew deadline. */
  writable(): { ok: true } | { ok: false; leader?: string } {
    if (this.#leading && performance.now() - this.#renewedAt < this.#s.renewDeadlineMs) return { ok: true };
    return {
      ok: false,
      ...(this.#holder && this.#holder !== this.#s.identity ? { leader: this.#holder } : {}),
    };
  }

  get leader(): string | undefined {
    return this.#holder;
  }

  start(): void {
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const before = performance.now();
    try {
      const mine = await this.#tryAcquireOrRenew();
      if (mine) this.#renewedAt = before;
      this.#setLeading(mine);
    } catch (err) {
      this.#log.warn({ action: 'lease', err: (err as Error).message }, 'could not reach the lease');
    }
    // A renewal that has not succeeded within the deadline ends leadership, whatever the API says later.
    if (this.#leading && performance.now() - this.#renewedAt >= this.#s.renewDeadlineMs)
      this.#setLeading(false);
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#s.retryPeriodMs);
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#log.info(
      { action: leading ? 'lead' : 'follow', identity: this.#s.identity },
      leading ? 'became the leader' : 'stopped leading',
    );
    if (leading) this.#events.started();
    else this.#events.stopped();
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#s.namespace}/leases`;
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const got = await rawJson<LeaseJson>(this.#kc, 'GET', `${this.#path}/${this.#s.name}`);
    if (got.status === 404) return this.#create(now);
    if (got.status !== 200) throw new Error(`lease read answered ${got.status}`);
    const spec = got.body.spec ?? {};
    this.#holder = spec.holderIdentity || undefined;
    if (!this.#mayTake(spec, now)) return false;
    const takeover = spec.holderIdentity !== this.#s.identity;
    const transitions = { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    const body = { ...got.body, spec: { ...spec, ...this.#mySpec(now), ...(takeover ? transitions : {}) } };
    // The resourceVersion in the body makes this a compare-and-swap: two candidates cannot both win.
    const put = await rawJson(this.#kc, 'PUT', `${this.#path}/${this.#s.name}`, body);
    if (put.status === 200) this.#holder = this.#s.identity;
    return put.status === 200;
  }

  /** Ours already, free, or expired. */
  #mayTake(spec: LeaseSpecJson, now: Date): boolean {
    if (!spec.holderIdentity || spec.holderIdentity === this.#s.identity) return true;
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    return renewed + (spec.leaseDurationSeconds ?? 0) * 1000 < now.getTime();
  }

  #mySpec(now: Date): LeaseSpecJson {
    return {
      holderIdentity: this.#s.identity,
      leaseDurationSeconds: Math.ceil(this.#s.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
  }

  async #create(now: Date): Promise<boolean> {
    const created = await rawJson(this.#kc, 'POST', this.#path, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.#s.name, namespace: this.#s.namespace },
      spec: { ...this.#mySpec(now), acquireTime: microTime(now), leaseTransitions: 0 },
    });
    this.#holder = created.status === 201 ? this.#s.identity : undefined;
    return created.status === 201;
  }

  /** Stops electing and gives the lease up, so another replica takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#setLeading(false);
    const got = await rawJson<LeaseJson>(this.#kc, 'GET', `${this.#path}/${this.#s.name}`).catch(
      () => undefined,
    );
    if (got?.status === 200 && got.body.spec?.holderIdentity === this.#s.identity) {
      await rawJson(this.#kc, 'PUT', `${this.#path}/${this.#s.name}`, {
        ...got.body,
        spec: { ...got.body.spec, holderIdentity: '', leaseDurationSeconds: 1 },
      }).catch(() => undefined);
    }
  }
}
