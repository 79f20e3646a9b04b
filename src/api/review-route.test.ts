// What the credential-review route makes of the headers a gateway sends: bad input is the caller's
// 401 with a reason code; a fault of ours is not dressed up as the caller's.
import { describe, expect, it } from '@jest/globals';
import type { Request, Response } from 'express';
import { HttpError } from './errors.ts';
import { credentialReview, type ReviewDeps } from './review-route.ts';

const deps = (verifyText: ReviewDeps['verifier']['verifyText']): ReviewDeps => ({
  view: { synced: () => true, state: () => undefined, byFingerprint: () => undefined },
  verifier: { verifyText },
  instance: 'prod',
  project: 'tf',
  clock: { now: () => new Date('2026-06-01T00:00:00Z') },
});

const request = (headers: Record<string, string>): Request =>
  ({ get: (name: string) => headers[name.toLowerCase()] }) as unknown as Request;
const response = { setHeader: () => response } as unknown as Response;

/** The error the route throws for these headers, as [status, reason], or the error itself. */
function refusal(d: ReviewDeps, headers: Record<string, string>): unknown {
  try {
    void credentialReview(d)(request(headers), response);
  } catch (err) {
    return err instanceof HttpError ? [err.status, err.code] : err;
  }
  return 'answered';
}

describe('credential-review route: bad input', () => {
  const decoding = deps((text, decode) => (decode(text), undefined));
  it.each<{ name: string; headers: Record<string, string>; want: unknown[] }>([
    {
      name: 'a certificate header that is not URL-encoded',
      headers: { 'x-client-certificate': '%E0%A4%A' },
      want: [401, 'invalid-certificate'],
    },
    {
      name: 'a fingerprint that is not 64 hexadecimal digits',
      headers: { 'x-client-certificate-sha256': 'abc' },
      want: [401, 'invalid-fingerprint'],
    },
    { name: 'neither header', headers: {}, want: [401, 'no-certificate'] },
    {
      name: 'a certificate that does not chain to the CA',
      headers: { 'x-client-certificate': 'not%20a%20certificate' },
      want: [401, 'untrusted-certificate'],
    },
  ])('$name: $want', ({ headers, want }) => {
    expect(refusal(decoding, headers)).toEqual(want);
  });

  it('a fault of the verifier itself is not the caller’s 401', () => {
    const broken = new TypeError('a bug of ours');
    const d = deps(() => {
      throw broken;
    });
    expect(refusal(d, { 'x-client-certificate': 'x' })).toBe(broken);
  });
});
