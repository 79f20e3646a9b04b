/** Runs `fn` over `items` with at most `limit` at once; never rejects (each result says how it went). */
export async function mapPool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i]!) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** One operation at a time per key: a sync and an admin's revoke never work on one account at once. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/**
 * How long a slice of a sync's decisions may hold the event loop. It bounds what an API answer (a
 * credential review, an admin read) waits behind a sync of any size, while each turn given also costs
 * the sync the requests answered in it (up to one per open connection): 16 decisions (~2 ms) cost a
 * no-op resync 29 % under a closed loop of reviews when a review cost ~0.15 ms (bench row
 * credential-reviews, 2026-12-01); with reviews made cheaper, 3 ms answered faster than 5 ms at
 * 1,000 and 10,000 accounts, at a cost to the sync within single runs' noise (ADR 27, second
 * amendment).
 */
export const SLICE_MS = 3;

export interface SliceOptions {
  budgetMs?: number;
  /** Milliseconds from any fixed origin (tests inject their own). */
  now?: () => number;
}

/**
 * Lets the event loop run whenever the current slice of a sync has taken its budget: a sync deciding
 * for 10,000 accounts must not hold the admin API's and the gateways' answers for its whole length.
 * One budget serves every pass of a sync: the time since the last turn given counts whichever pass
 * spent it, so passes run back to back never hold the event loop for a budget each.
 */
export class Slices {
  readonly #budget: number;
  readonly #now: () => number;
  #started: number;

  constructor(o: SliceOptions = {}) {
    this.#budget = o.budgetMs ?? SLICE_MS;
    this.#now = o.now ?? (() => performance.now());
    this.#started = this.#now();
  }

  /** Lets the event loop run if this slice's budget is spent (between steps no pass can cut). */
  async checkpoint(): Promise<void> {
    if (this.#now() - this.#started < this.#budget) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#started = this.#now();
  }

  /** Calls `fn` on each item in order, letting the event loop run whenever the budget is spent. */
  async each<T>(items: Iterable<T>, fn: (item: T) => void): Promise<void> {
    for (const item of items) {
      // Inline rather than `await this.checkpoint()`: a microtask per item costs a no-op resync.
      if (this.#now() - this.#started >= this.#budget) await this.checkpoint();
      fn(item);
    }
  }
}
