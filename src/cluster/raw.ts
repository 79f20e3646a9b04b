// A plain JSON request with the kubeconfig's credentials, for the objects whose MicroTime fields
// client-node cannot serialise (Lease): the API wants microseconds, client-node writes milliseconds.
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface RawReply<T> {
  status: number;
  body: T;
}

export async function rawJson<T>(
  kc: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RawReply<T>> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  const opts: RequestOptions = {
    method,
    headers: {
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
  };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(url, opts, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
        } catch {
          reject(new Error(`${method} ${url.pathname}: ${res.statusCode ?? 0} with a body that is not JSON`));
        }
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
    req.on('error', reject);
    if (body) req.write(JSON.stringify(body));
    req.end();
  });
}

/** RFC 3339 with microseconds, as metav1.MicroTime wants it. */
export const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
