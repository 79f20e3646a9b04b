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
 * credential-reviews, 2026-12-01); at ~5 ms, with reviews made cheaper, it costs nothing measurable
 * (ADR 27).
 */
export const SLICE_MS = 5;

export interface SliceOptions {
  budgetMs?: number;
  /** Milliseconds from any fixed origin (tests inject their own). */
  now?: () => number;
}

/**
 * Calls `fn` on each item in order, letting the event loop run whenever the current slice has taken
 * `budgetMs`: a sync deciding for 10,000 accounts must not hold the admin API's and the gateways'
 * answers for its whole length.
 */
export async function eachInSlices<T>(
  items: Iterable<T>,
  fn: (item: T) => void,
  o: SliceOptions = {},
): Promise<void> {
  const budget = o.budgetMs ?? SLICE_MS;
  const now = o.now ?? (() => performance.now());
  let started = now();
  let first = true;
  for (const item of items) {
    if (!first && now() - started >= budget) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      started = now();
    }
    first = false;
    fn(item);
  }
}
