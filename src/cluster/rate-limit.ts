// A token bucket in front of every API request: a mass update must not overload the API servers
// (the older daemon did, in June 2024).
import { setTimeout as sleep } from 'node:timers/promises';

export interface Ticker {
  /** Monotonic milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realTicker: Ticker = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

export class TokenBucket {
  readonly #qps: number;
  readonly #burst: number;
  readonly #ticker: Ticker;
  #tokens: number;
  #last: number;
  #queue: Promise<void> = Promise.resolve();

  constructor(qps: number, burst: number, ticker: Ticker = realTicker) {
    this.#qps = qps;
    this.#burst = burst;
    this.#ticker = ticker;
    this.#tokens = burst;
    this.#last = ticker.now();
  }

  /** Resolves when a request may go; callers are served in order. */
  take(): Promise<void> {
    const turn = this.#queue.then(() => this.#takeOne());
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  async #takeOne(): Promise<void> {
    this.#refill();
    if (this.#tokens < 1) {
      await this.#ticker.sleep(((1 - this.#tokens) / this.#qps) * 1000);
      this.#refill();
    }
    this.#tokens -= 1;
  }

  #refill(): void {
    const now = this.#ticker.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
  }
}
