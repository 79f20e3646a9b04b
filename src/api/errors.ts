// One error type for the API, and one place that turns any error into application/problem+json.
import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../log.ts';

export class HttpError extends Error {
  readonly status: number;
  /** Stable, machine-readable. */
  readonly code: string;

  constructor(status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Body-parser and express errors carry `status` and `type`; they become our 400s. */
function fromFramework(err: unknown): HttpError | undefined {
  const e = err as { status?: number; type?: string };
  if (e.type === 'entity.too.large')
    return new HttpError(400, 'body-too-large', 'the request body is too large');
  if (e.type === 'entity.parse.failed')
    return new HttpError(400, 'invalid-json', 'the request body is not valid JSON', { cause: err });
  if (e.status === 415)
    return new HttpError(
      415,
      'unsupported-media-type',
      'the request body is in an encoding that is not accepted',
      {
        cause: err,
      },
    );
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return new HttpError(400, 'bad-request', 'the request could not be read');
  return undefined;
}

export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const known = err instanceof HttpError ? err : fromFramework(err);
    // Unknown errors are logged in full and answered without detail: no paths, no key material.
    if (!known)
      log.error(
        {
          action: 'api',
          method: req.method,
          path: req.path,
          err: err instanceof Error ? err.message : 'unknown',
        },
        'API error',
      );
    const e = known ?? new HttpError(500, 'internal', 'internal error; see the kubeusers log');
    res
      .status(e.status)
      .type('application/problem+json')
      .json({
        type: `https://kubeusers.io/problems/${e.code}`,
        title: TITLES[e.status] ?? 'Error',
        status: e.status,
        code: e.code,
        detail: e.message,
      });
  };
}
