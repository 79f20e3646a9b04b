// Leader election on a coordination.k8s.io Lease: only the leader writes. A leader that cannot renew
// stops writing at its renew deadline, which comes before the lease expires for anyone else.
import type { KubeAccess } from './kubeconfig.ts';
import type { Logger } from '../log.ts';
import { microTime, rawJson } from './raw.ts';

export interface LeaseSpecJson {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}

export type LeaseJson = {
  metadata?: Record<string, unknown> & { annotations?: Record<string, string> };
  spec?: LeaseSpecJson;
};

/**
 * Where the holder's admin API is, for followers to hand writes to (ADR 25). Whoever could write the
 * Lease could point it elsewhere: the hop verifies the leader's serving certificate, so a wrong URL
 * makes a write fail, never go to a stranger.
 */
export const API_URL_ANNOTATION = 'kubeusers.io/api-url';

export interface LeaderSettings {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Sent with every lease request, so the audit log names the process. */
  userAgent?: string;
}

/** What a look at the lease allows: take it (or keep it), or leave it to its live holder. */
export type LeaseDecision =
  | { take: true; takeover: boolean; from?: { holder: string; expiresAt: Date } }
  | { take: false; holder: string; expiresAt: Date; renewedAt?: Date };

/**
 * Ours already, free, expired — or, with `force`, taken from a live holder (`from` says whose, and
 * when its lease would have ended: until then it may still be writing).
 */
export function leaseDecision(
  spec: LeaseSpecJson,
  now: Date,
  identity: string,
  force = false,
): LeaseDecision {
  const holder = spec.holderIdentity;
  if (!holder) return { take: true, takeover: true };
  if (holder === identity) return { take: true, takeover: false };
  const renewedAt = spec.renewTime ? new Date(spec.renewTime) : undefined;
  const expiresAt = new Date((renewedAt?.getTime() ?? 0) + (spec.leaseDurationSeconds ?? 0) * 1000);
  if (expiresAt < now) return { take: true, takeover: true };
  if (force) return { take: true, takeover: true, from: { holder, expiresAt } };
  return { take: false, holder, expiresAt, ...(renewedAt ? { renewedAt } : {}) };
}

/** What one look at the lease came to: this replica's, a live holder's, or no answer or write. */
export type LeaseLook = { is: 'ours' } | { is: 'held' } | { is: 'failed'; status?: number; err?: string };

/**
 * Whether a replica leads after a look at the lease. Another live holder ends it at once (a forced
 * takeover). A write refused (429 under load, a 500, a 409) or no answer ends it only at the renew
 * deadline, as client-go's elector does: one refused renewal used to drop the lease in the middle of
 * an issuance, leaving it for the next leader to finish.
 */
export function leadsAfter(
  look: LeaseLook,
  leading: boolean,
  msSinceRenewal: number,
  deadlineMs: number,
): boolean {
  if (look.is === 'ours') return true;
  if (look.is === 'held') return false;
  return leading && msSinceRenewal < deadlineMs;
}

/**
 * A one-shot's refused take of the lease: someone else wrote it between our read and our write (409),
 * looked at again at once; an API server busy (429) or failing (5xx), given a moment. A few times,
 * then it says why.
 */
async function refusedAgain(status: number, attempt: number): Promise<void> {
  const again = status === 409 || status === 429 || status >= 500;
  if (!again || attempt >= 3)
    throw new Error(
      status === 409
        ? 'the lease changed under every attempt to take it'
        : `the API server refused to write the lease (HTTP ${status})`,
    );
  if (status !== 409) await new Promise((done) => setTimeout(done, 250 * 2 ** attempt));
}

export type Acquired =
  | { ok: true; from?: { holder: string; expiresAt: Date } }
  | { ok: false; holder: string; expiresAt: Date; renewedAt?: Date };

export interface LeaderEvents {
  started(): void;
  stopped(): void;
}

export class LeaderElector {
  readonly #kc: KubeAccess;
  readonly #s: LeaderSettings;
  readonly #log: Logger;
  readonly #events: LeaderEvents;
  #leading = false;
  /** Monotonic time of the last successful acquire or renew. */
  #renewedAt = -Infinity;
  #holder: string | undefined;
  /** The holder's advertised API URL, as last read from the lease. */
  #holderUrl: string | undefined;
  #advertised: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The last look failed: the next good one is told. */
  #failing = false;

  constructor(kc: KubeAccess, s: LeaderSettings, log: Logger, events: LeaderEvents) {
    this.#kc = kc;
    this.#s = s;
    this.#log = log;
    this.#events = events;
  }

  /** True only while this replica holds a lease it renewed within the renew deadline. */
  writable(): { ok: true } | { ok: false; leader?: string; url?: string } {
    if (this.#leading && performance.now() - this.#renewedAt < this.#s.renewDeadlineMs) return { ok: true };
    const other = this.#holder && this.#holder !== this.#s.identity;
    return {
      ok: false,
      ...(other ? { leader: this.#holder } : {}),
      ...(other && this.#holderUrl ? { url: this.#holderUrl } : {}),
    };
  }

  /** This replica's API URL, written on the lease whenever it holds it. Call before start(). */
  advertise(url: string | undefined): void {
    this.#advertised = url;
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
    let look: LeaseLook;
    try {
      let r = await this.#attempt(false);
      // Someone wrote the lease between the read and the write: whose it is now is read at once.
      if ('refused' in r && r.refused === 409) r = await this.#attempt(false);
      look = r.ok ? { is: 'ours' } : 'refused' in r ? { is: 'failed', status: r.refused } : { is: 'held' };
    } catch (err) {
      look = { is: 'failed', err: (err as Error).message };
    }
    if (look.is === 'ours') this.#renewedAt = before;
    const sinceRenewal = performance.now() - this.#renewedAt;
    const leading = leadsAfter(look, this.#leading, sinceRenewal, this.#s.renewDeadlineMs);
    this.#tell(look, leading, sinceRenewal);
    this.#setLeading(leading);
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#s.retryPeriodMs);
  }

  /**
   * A leader's failed renewal is told each time (at most renew deadline / retry period of them, the
   * last one saying leadership ends), and its first renewal after them once. A follower's failed
   * look is told each time too (an outage: every retry period), but a lost race for a free lease
   * (409) is ordinary.
   */
  #tell(look: LeaseLook, leading: boolean, sinceRenewal: number): void {
    const wasFailing = this.#failing;
    this.#failing = look.is === 'failed';
    if (look.is !== 'failed') {
      if (wasFailing && look.is === 'ours' && this.#leading)
        this.#log.info({ action: 'lease' }, 'renewed the lease again');
      return;
    }
    const why = { action: 'lease', ...(look.status ? { status: look.status } : { err: look.err }) };
    if (!this.#leading) {
      if (look.status === 409) this.#log.debug(why, 'another replica took the lease first');
      else this.#log.warn(why, 'could not take the lease');
      return;
    }
    if (!leading) {
      this.#log.warn(why, 'could not renew the lease by the renew deadline: no longer leading');
      return;
    }
    const deadlineInMs = Math.max(0, Math.round(this.#s.renewDeadlineMs - sinceRenewal));
    this.#log.warn(
      { ...why, deadlineInMs },
      'could not renew the lease: still leading until the renew deadline',
    );
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

  /**
   * One look at the lease, and the write it allows (a compare-and-swap on its resourceVersion);
   * `refused` is the status of a write the API server did not take (409: someone wrote it meanwhile).
   */
  async #attempt(force: boolean): Promise<Acquired | { ok: false; refused: number }> {
    const now = new Date();
    const got = await this.#raw<LeaseJson>('GET', `${this.#path}/${this.#s.name}`);
    if (got.status === 404) {
      const created = await this.#create(now);
      return created === 201 ? { ok: true } : { ok: false, refused: created };
    }
    if (got.status !== 200) throw new Error(`lease read answered ${got.status}`);
    const spec = got.body.spec ?? {};
    this.#observe(got.body);
    const decision = leaseDecision(spec, now, this.#s.identity, force);
    if (!decision.take) return { ok: false, ...decision };
    const transitions = { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    const body = {
      ...got.body,
      metadata: this.#myMetadata(got.body.metadata ?? {}),
      spec: { ...spec, ...this.#mySpec(now), ...(decision.takeover ? transitions : {}) },
    };
    // The resourceVersion in the body makes this a compare-and-swap: two candidates cannot both win.
    const put = await this.#raw('PUT', `${this.#path}/${this.#s.name}`, body);
    if (put.status !== 200) return { ok: false, refused: put.status };
    this.#holder = this.#s.identity;
    return { ok: true, ...(decision.from ? { from: decision.from } : {}) };
  }

  /**
   * For a one-shot command: takes the lease now if it is free (or, with `force`, from its live
   * holder) and keeps renewing it until stop(); or says who holds it.
   */
  async acquire(opts: { force?: boolean } = {}): Promise<Acquired> {
    for (let i = 0; ; i++) {
      const before = performance.now();
      const r = await this.#attempt(opts.force ?? false);
      if ('refused' in r) {
        await refusedAgain(r.refused, i);
        continue;
      }
      if (!r.ok) return r;
      this.#renewedAt = before;
      this.#setLeading(true);
      if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#s.retryPeriodMs);
      return r;
    }
  }

  #raw<T>(method: string, path: string, body?: unknown): ReturnType<typeof rawJson<T>> {
    return rawJson<T>(
      this.#kc,
      method,
      path,
      body,
      this.#s.userAgent ? { 'user-agent': this.#s.userAgent } : {},
    );
  }

  #observe(lease: LeaseJson): void {
    this.#holder = lease.spec?.holderIdentity || undefined;
    this.#holderUrl = lease.metadata?.annotations?.[API_URL_ANNOTATION];
  }

  /** The lease's metadata with this replica's API URL (or none: a stale one must not outlive its holder). */
  #myMetadata(metadata: NonNullable<LeaseJson['metadata']>): NonNullable<LeaseJson['metadata']> {
    const others = Object.fromEntries(
      Object.entries(metadata.annotations ?? {}).filter(([k]) => k !== API_URL_ANNOTATION),
    );
    const annotations = {
      ...others,
      ...(this.#advertised ? { [API_URL_ANNOTATION]: this.#advertised } : {}),
    };
    return { ...metadata, annotations };
  }

  #mySpec(now: Date): LeaseSpecJson {
    return {
      holderIdentity: this.#s.identity,
      leaseDurationSeconds: Math.ceil(this.#s.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
  }

  /** The status of the create: 201 when this replica made the lease. */
  async #create(now: Date): Promise<number> {
    const created = await this.#raw('POST', this.#path, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: this.#myMetadata({ name: this.#s.name, namespace: this.#s.namespace }),
      spec: { ...this.#mySpec(now), acquireTime: microTime(now), leaseTransitions: 0 },
    });
    this.#holder = created.status === 201 ? this.#s.identity : undefined;
    return created.status;
  }

  /** Stops electing and gives the lease up, so another replica takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#setLeading(false);
    const got = await this.#raw<LeaseJson>('GET', `${this.#path}/${this.#s.name}`).catch(() => undefined);
    if (got?.status === 200 && got.body.spec?.holderIdentity === this.#s.identity) {
      await this.#raw('PUT', `${this.#path}/${this.#s.name}`, {
        ...got.body,
        spec: { ...got.body.spec, holderIdentity: '', leaseDurationSeconds: 1 },
      }).catch(() => undefined);
    }
  }
}
