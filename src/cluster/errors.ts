import { KubeApiError } from './http.ts';

/**
 * The HTTP status of an API error: our transport's KubeApiError, or the same shape (a numeric `code`)
 * from client-node where a tool or test of its own still uses it.
 */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number')
    return err.code;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => statusOf(err) === 404;
export const isConflict = (err: unknown): boolean => statusOf(err) === 409;
export const isForbidden = (err: unknown): boolean => statusOf(err) === 403;

/** A one-line description of an error for logs and state: the API's own message, never headers or bodies. */
export function describeError(err: unknown): string {
  const status = statusOf(err);
  if (status !== undefined) {
    const body = (err as { body?: unknown }).body;
    let message = '';
    try {
      const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as
        { message?: unknown } | undefined;
      if (typeof parsed?.message === 'string') message = parsed.message;
    } catch {
      // not JSON
    }
    return `API ${status}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : 'unknown error';
}

/** Connection failures of a socket or of undici: the API server did not answer at all. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** No answer from the API server (an outage, a restart), told by the error's code, never its text. */
export function isUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (UNREACHABLE.has(code) || code.startsWith('UND_ERR_'))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * A write the leader-election fence refused: this process does not hold the lease (any more). Not a
 * failure of the account: the next leader does the work.
 */
export class NotLeaderError extends Error {
  readonly reason = 'not-leader';

  constructor(options?: { cause?: unknown }) {
    super('not the leader: kubeusers writes only while it holds the lease', options);
    this.name = 'NotLeaderError';
  }
}

/** The fence's refusal, also when an API client wrapped it. */
export function isNotLeader(err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof NotLeaderError) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}
