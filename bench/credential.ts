// When a credential starts or stops working, to the few milliseconds: a request with the home's own
// certificate and key straight to the apiserver, on a connection of its own, asked every 5 ms.
// kubectl (a process start of ~0.15 s on this machine) and waitUntil's 100 ms pauses made these rows
// measure the harness: they confirm the outcome once it is seen, untimed.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

const POLL_MS = 5;

/** A GET with a client certificate on a connection of its own: its status (0 when it fails). */
export function statusWith(url: string, ca: string, cert: string, key: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { ca, cert, key, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

export interface Probe {
  server: string;
  ca: string;
  /** The account's namespace: its own ConfigMaps, what `kubectl get configmaps` asks for. */
  namespace: string;
}

/** The status a home's credential gets now; 0 while its files are not all written. */
export function homeStatus(p: Probe, home: string): Promise<number> {
  const dir = join(home, '.toolskube');
  const files = [join(dir, 'client.crt'), join(dir, 'client.key'), join(home, '.kube', 'config')];
  if (!files.every((f) => existsSync(f))) return Promise.resolve(0);
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(files[0]!, 'utf8');
    key = readFileSync(files[1]!, 'utf8');
  } catch {
    return Promise.resolve(0);
  }
  return statusWith(`${p.server}/api/v1/namespaces/${p.namespace}/configmaps`, p.ca, cert, key);
}

/** Asks `status` every 5 ms until it gives `want`: the moment it first did (performance.now()). */
export async function pollFor(
  what: string,
  status: () => Promise<number>,
  want: (s: number) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (want(await status())) return performance.now();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`${what}: not seen within ${timeoutMs} ms`);
}
