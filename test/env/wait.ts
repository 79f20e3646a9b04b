// Waits on progress a test can observe (a watch event, a cache state, an answer), with a generous
// ceiling that only ends a test that would otherwise hang: never a timing assertion.

/**
 * Polls `check` until it gives something other than `undefined` or `false`, and returns that.
 * Throws "timed out waiting for <what>" after `ms`.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 60_000,
  everyMs = 50,
): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
