// Request bodies: JSON only, UTF-8 only. A browser sends text/plain, form and multipart bodies
// cross-site without asking first, so the API refuses every other media type (415); bytes that are
// not UTF-8, or escapes that make no character, are refused (400) rather than stored as U+FFFD.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { HttpError } from './errors.ts';

export const JSON_TYPES = ['application/json'] as const;

/** Why a body's media type is refused, or undefined when it is JSON in UTF-8. */
export function refuseMediaType(
  header: string | undefined,
  accepted: readonly string[] = JSON_TYPES,
): string | undefined {
  if (!header) return 'a request body needs Content-Type: application/json';
  const [type = '', ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  if (!accepted.includes(type))
    return `Content-Type ${type || '(empty)'} is not accepted; send ${accepted.join(' or ')}`;
  for (const p of params) {
    const [k, v = ''] = p.split('=').map((x) => x.trim());
    if (k === 'charset' && v.replace(/^"|"$/g, '') !== 'utf-8')
      return `charset ${v} is not accepted; send UTF-8`;
  }
  return undefined;
}

/** With the u flag a surrogate pair is one code point, so this finds only lone surrogates. */
const LONE_SURROGATE = /\p{Cs}/u;
const wellFormedText = (s: string): boolean => !LONE_SURROGATE.test(s);

function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return wellFormedText(value);
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).every(([k, v]) => wellFormedText(k) && wellFormed(v));
  return true;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON value of a body, or undefined for an empty one. Throws HttpError 415 or 400. */
export function readJsonBody(contentType: string | undefined, bytes: Buffer | undefined): unknown {
  if (!bytes || bytes.length === 0) return undefined;
  const refused = refuseMediaType(contentType);
  if (refused) throw new HttpError(415, 'unsupported-media-type', refused);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch (err) {
    throw new HttpError(400, 'invalid-encoding', 'the request body is not valid UTF-8', { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'invalid-json', 'the request body is not valid JSON', { cause: err });
  }
  if (!wellFormed(value))
    throw new HttpError(
      400,
      'invalid-encoding',
      'the request body holds an escape that is no character (a lone surrogate)',
    );
  return value;
}

/** Reads the raw body (up to `limitBytes`), then sets `req.body` to its JSON value. */
export function jsonBody(limitBytes: number): RequestHandler[] {
  return [
    express.raw({ type: () => true, limit: limitBytes }),
    (req: Request, _res: Response, next: NextFunction) => {
      try {
        req.body = readJsonBody(req.get('content-type'), Buffer.isBuffer(req.body) ? req.body : undefined);
        next();
      } catch (err) {
        next(err);
      }
    },
  ];
}
