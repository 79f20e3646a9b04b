// A plain JSON request outside any client set's budget and fence, for leader election (the Lease):
// its renewals must not wait behind a sync's requests.
import { readText, transport, type Transport } from './http.ts';
import type { KubeAccess } from './kubeconfig.ts';

export interface RawReply<T> {
  status: number;
  body: T;
}

/** One pool per access (the elector's renewals reuse their connection). */
const pools = new WeakMap<KubeAccess, Transport>();

export async function rawJson<T>(
  kc: KubeAccess,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RawReply<T>> {
  let pool = pools.get(kc);
  if (!pool) pools.set(kc, (pool = transport(kc)));
  const res = await pool.open({ method, path, body, headers, idleMs: 10_000 });
  const text = await readText(res);
  try {
    return { status: res.statusCode ?? 0, body: JSON.parse(text) as T };
  } catch {
    throw new Error(`${method} ${path.split('?')[0]}: ${res.statusCode ?? 0} with a body that is not JSON`);
  }
}

/** RFC 3339 with microseconds, as metav1.MicroTime wants it. */
export const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
