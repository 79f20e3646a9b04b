// A token bucket in front of every API request: a mass update must not overload the API servers
// (the older daemon did, in June 2024). A bucket may bound how many callers wait for it: the admin
// API's reviews are refused at once when that many are queued, rather than piling up behind a flood.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Ticker {
  /** Monotonic milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realTicker: Ticker = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

/** `take()` refused because `maxWaiting` callers are already queued. */
export class BudgetExhausted extends Error {
  readonly reason = 'budget-exhausted';

  constructor(waiting: number) {
    super(`${waiting} requests are already waiting for the rate limiter`);
  }
}

export interface BucketOptions {
  /** Refuse `take()` at once while this many callers wait (default: no bound). */
  maxWaiting?: number;
}

export interface BucketCounters {
  /** Requests let through. */
  taken: number;
  /** Requests refused because the queue was full. */
  refused: number;
}

export class TokenBucket {
  readonly #qps: number;
  readonly #burst: number;
  readonly #ticker: Ticker;
  readonly #maxWaiting: number;
  #tokens: number;
  #last: number;
  #queue: Promise<void> = Promise.resolve();
  #waiting = 0;
  readonly #counters: BucketCounters = { taken: 0, refused: 0 };

  constructor(qps: number, burst: number, ticker: Ticker = realTicker, opts: BucketOptions = {}) {
    this.#qps = qps;
    this.#burst = burst;
    this.#ticker = ticker;
    this.#maxWaiting = opts.maxWaiting ?? Infinity;
    this.#tokens = burst;
    this.#last = ticker.now();
  }

  /** Resolves when a request may go; callers are served in order. Rejects with BudgetExhausted when the queue is full. */
  take(): Promise<void> {
    if (this.#waiting >= this.#maxWaiting) {
      this.#counters.refused++;
      return Promise.reject(new BudgetExhausted(this.#waiting));
    }
    this.#waiting++;
    const turn = this.#queue.then(() => this.#takeOne());
    this.#queue = turn.catch(() => undefined);
    return turn.finally(() => {
      this.#waiting--;
    });
  }

  /** What went through and what was refused so far. */
  counters(): Readonly<BucketCounters> {
    return { ...this.#counters };
  }

  async #takeOne(): Promise<void> {
    this.#refill();
    if (this.#tokens < 1) {
      await this.#ticker.sleep(((1 - this.#tokens) / this.#qps) * 1000);
      this.#refill();
    }
    this.#tokens -= 1;
    this.#counters.taken++;
  }

  #refill(): void {
    const now = this.#ticker.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
  }
}
