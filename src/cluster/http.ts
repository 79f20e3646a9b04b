// kubeusers' HTTP to the API server over node:https: one keep-alive Agent per client set, shared by
// requests and watches, so a burst of issuances reuses a few TLS connections (ADR 26).
import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { KubeAccess } from './kubeconfig.ts';

/** The API server answered with an error status; `code` is that status, `body` its text (a Status). */
export class KubeApiError extends Error {
  readonly reason = 'api-status';
  readonly code: number;
  readonly body: string;
  constructor(method: string, path: string, code: number, body: string) {
    super(`${method} ${path.split('?')[0]}: HTTP ${code}`);
    this.name = 'KubeApiError';
    this.code = code;
    this.body = body;
  }
}

export interface Send {
  method: string;
  path: string;
  body?: unknown;
  contentType?: string;
  accept?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** An idle socket this long ends the request; 0 for a watch, which the server ends itself. */
  idleMs?: number;
}

export interface Transport {
  readonly server: string;
  /** The response head and its body as a stream, whatever the status. */
  open(s: Send): Promise<IncomingMessage>;
}

/** The pool: idle connections are kept (unref'd: a one-shot command still exits) and reused. */
export function transport(access: KubeAccess): Transport {
  const agent = new Agent({ keepAlive: true, timeout: 60_000, ...access.tls });
  const open = async (s: Send, retried = false): Promise<IncomingMessage> => {
    const opts: RequestOptions = {
      method: s.method,
      agent,
      headers: {
        accept: s.accept ?? 'application/json',
        ...(s.body !== undefined ? { 'content-type': s.contentType ?? 'application/json' } : {}),
        ...(await access.headers()),
        ...s.headers,
      },
      ...(s.signal ? { signal: s.signal } : {}),
    };
    if (access.viaClientNode) await access.viaClientNode(opts);
    const payload = s.body === undefined ? undefined : JSON.stringify(s.body);
    try {
      return await once(new URL(`${access.server}${s.path}`), opts, payload, s.idleMs ?? 60_000);
    } catch (err) {
      // The server may close an idle keep-alive connection just as it is reused: the request never
      // reached it, so it is sent once more on a fresh one.
      if (!retried && (err as { reused?: boolean }).reused) return open(s, true);
      throw err;
    }
  };
  return { server: access.server, open: (s) => open(s) };
}

function once(
  url: URL,
  opts: RequestOptions,
  payload: string | undefined,
  idleMs: number,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, opts, resolve);
    if (idleMs > 0)
      req.setTimeout(idleMs, () =>
        req.destroy(
          Object.assign(new Error(`${opts.method} ${url.pathname}: no answer`), { code: 'ETIMEDOUT' }),
        ),
      );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && err.code === 'ECONNRESET') Object.assign(err, { reused: true });
      reject(err);
    });
    req.end(payload);
  });
}

export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A request whose answer is JSON; an error status is a KubeApiError. */
export async function sendJson<T>(t: Transport, s: Send): Promise<T> {
  const res = await t.open(s);
  const text = await readText(res);
  const status = res.statusCode ?? 0;
  if (status >= 400) throw new KubeApiError(s.method, s.path, status, text);
  // No Accept-Encoding is sent: the answer is not compressed (on loopback, gzip cost CPU for nothing).
  return (text ? JSON.parse(text) : {}) as T;
}

/** A response body as the web stream watch.ts reads. */
export const webBody = (res: IncomingMessage): ReadableStream<Uint8Array> =>
  Readable.toWeb(res) as ReadableStream<Uint8Array>;
