// A short-lived memory of the cluster's answers to TokenReviews and SubjectAccessReviews, so that a
// caller repeating itself (or a stranger repeating a bad token) costs one review, not one per
// request. Bounded: the oldest entries go first. Keys are digests; a token is never kept.
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';

export interface CacheTtl {
  /** How long an answer that lets the caller in is kept (0: not kept). */
  positiveMs: number;
  /** How long a refusal is kept (0: not kept). */
  negativeMs: number;
  /** The most entries kept; beyond it, the oldest are dropped. */
  maxEntries: number;
}

interface Entry<V> {
  value: V;
  until: number;
}

/** SHA-256 of the parts, each length-prefixed so that no two lists of parts share a key. */
export function digestKey(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${Buffer.byteLength(p)}:${p};`);
  return h.digest('hex');
}

export class ReviewCache<V> {
  readonly #ttl: CacheTtl;
  readonly #clock: Clock;
  readonly #positive: (v: V) => boolean;
  readonly #entries = new Map<string, Entry<V>>();

  /** `positive` tells an answer that lets the caller in from a refusal. */
  constructor(ttl: CacheTtl, clock: Clock, positive: (v: V) => boolean) {
    this.#ttl = ttl;
    this.#clock = clock;
    this.#positive = positive;
  }

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.until <= this.#clock.now().getTime()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V): void {
    const ms = this.#positive(value) ? this.#ttl.positiveMs : this.#ttl.negativeMs;
    this.#entries.delete(key);
    if (ms <= 0 || this.#ttl.maxEntries <= 0) return;
    while (this.#entries.size >= this.#ttl.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, until: this.#clock.now().getTime() + ms });
  }

  /** The cached answer, or the one `ask` gives (then cached). Errors are not cached. */
  async through(key: string, ask: () => Promise<V>): Promise<V> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = await ask();
    this.set(key, value);
    return value;
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
