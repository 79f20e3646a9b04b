// kubeusers' HTTP to the API server over node:https: one keep-alive Agent per client set, shared by
// requests and watches, so a burst of issuances reuses a few TLS connections (ADR 26).
import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { KubeAccess } from './kubeconfig.ts';

/**
 * The API server (or whatever answers in its place) did not answer with success: `code` is the status
 * (any but 2xx: a proxy's redirect to its login page is no success), `body` its text (a Status);
 * 'empty-answer' is a 2xx with no body where an object was due.
 */
export class KubeApiError extends Error {
  readonly reason: 'api-status' | 'empty-answer';
  readonly code: number;
  readonly body: string;
  constructor(
    method: string,
    path: string,
    code: number,
    body: string,
    reason: KubeApiError['reason'] = 'api-status',
  ) {
    super(`${method} ${path.split('?')[0]}: HTTP ${code}${reason === 'empty-answer' ? ' with no body' : ''}`);
    this.name = 'KubeApiError';
    this.reason = reason;
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
  /** An idle socket this long ends the request; 0 for a watch, which has the two limits below. */
  idleMs?: number;
  /** No response head within this long ends the request (connect, TLS, headers); 0: none. */
  headMs?: number;
  /**
   * The body not ended within this long after the head is destroyed with ETIMEDOUT: a watch the server
   * should have ended (timeoutSeconds) on a connection that went half-open; 0: none.
   */
  bodyMs?: number;
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
      return await once(new URL(`${access.server}${s.path}`), opts, payload, s);
    } catch (err) {
      // The server may close an idle keep-alive connection just as it is reused. Only a read is sent
      // again on a fresh one: a reset does not prove a write was not acted on.
      if (!retried && s.method === 'GET' && (err as { reused?: boolean }).reused) return open(s, true);
      throw err;
    }
  };
  return { server: access.server, open: (s) => open(s) };
}

const timedOut = (what: string): Error => Object.assign(new Error(what), { code: 'ETIMEDOUT' });

function once(
  url: URL,
  opts: RequestOptions,
  payload: string | undefined,
  s: Send,
): Promise<IncomingMessage> {
  const { idleMs = 60_000, headMs = 0, bodyMs = 0 } = s;
  return new Promise((resolve, reject) => {
    let head: NodeJS.Timeout | undefined;
    const req = request(url, opts, (res) => {
      clearTimeout(head);
      if (bodyMs > 0) {
        const body = setTimeout(
          () => res.destroy(timedOut(`${opts.method} ${url.pathname}: not ended within ${bodyMs} ms`)),
          bodyMs,
        );
        res.once('close', () => clearTimeout(body));
      }
      resolve(res);
    });
    if (headMs > 0)
      head = setTimeout(() => req.destroy(timedOut(`${opts.method} ${url.pathname}: no answer`)), headMs);
    if (idleMs > 0)
      req.setTimeout(idleMs, () => req.destroy(timedOut(`${opts.method} ${url.pathname}: no answer`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(head);
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

/**
 * A request whose answer is JSON. Only a 2xx is success, and only with a body (the API server always
 * sends one, a DELETE's included); a 204 to a DELETE is nothing, which its callers expect.
 */
export async function sendJson<T>(t: Transport, s: Send): Promise<T> {
  const res = await t.open(s);
  const text = await readText(res);
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) throw new KubeApiError(s.method, s.path, status, text);
  if (!text) {
    if (status === 204 && s.method === 'DELETE') return {} as T;
    throw new KubeApiError(s.method, s.path, status, text, 'empty-answer');
  }
  // No Accept-Encoding is sent: the answer is not compressed (on loopback, gzip cost CPU for nothing).
  return JSON.parse(text) as T;
}

/** A response body as the web stream watch.ts reads. */
export const webBody = (res: IncomingMessage): ReadableStream<Uint8Array> =>
  Readable.toWeb(res) as ReadableStream<Uint8Array>;
