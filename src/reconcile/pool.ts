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
 * Calls `fn` on each item in order, letting the event loop run between every `every` items: a sync
 * deciding for 10,000 accounts must not hold the admin API's and the gateways' answers for its whole
 * length (a decision is ~0.1 ms, so 16 of them are a slice of a few milliseconds).
 */
export async function eachInSlices<T>(items: Iterable<T>, fn: (item: T) => void, every = 16): Promise<void> {
  let n = 0;
  for (const item of items) {
    if (n > 0 && n % every === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    fn(item);
    n++;
  }
}
