// GET /api/v1/credential-reviews: the certificate comes in a header, as nginx passes it
// (`$ssl_client_escaped_cert`, URL-encoded PEM), or as a SHA-256 fingerprint from a service that
// holds only that. The answer is the review's (review.ts), as identity headers and JSON.
import type { Request, Response } from 'express';
import type { Clock } from '../clock.ts';
import { HttpError } from './errors.ts';
import {
  identityHeaders,
  normaliseFingerprint,
  reviewCertificate,
  reviewFingerprint,
  type CredentialView,
  type ReviewOutcome,
  type ReviewReason,
  type VerifiedCertificate,
} from './review.ts';

export const CERTIFICATE_HEADER = 'x-client-certificate';
export const FINGERPRINT_HEADER = 'x-client-certificate-sha256';

export interface ReviewDeps {
  view: CredentialView;
  verifier: {
    verifyText(text: string, decode: (text: string) => string): VerifiedCertificate | undefined;
  };
  instance: string;
  project: string;
  clock: Clock;
}

const MESSAGES: Record<ReviewReason, string> = {
  'not-synced': 'this replica does not know the accounts right now; retry (another replica may)',
  'untrusted-certificate': 'the certificate is not signed by the cluster CA',
  'expired-certificate': 'the certificate has expired',
  'certificate-not-yet-valid': 'the certificate is not valid yet',
  'not-a-kubeusers-credential': 'the certificate is not a credential kubeusers issued',
  'unknown-credential': 'no account has a current certificate with this fingerprint',
  'credential-revoked': 'this credential has been revoked, or its account is locked or gone',
  'credential-superseded': 'this credential is not the current one of its account',
  'foreign-credential': 'this credential was issued by another kubeusers installation',
};

function outcomeOf(req: Request, d: ReviewDeps): ReviewOutcome {
  const c = { instance: d.instance, project: d.project, now: d.clock.now(), view: d.view };
  const escaped = req.get(CERTIFICATE_HEADER);
  if (escaped) {
    let cert: VerifiedCertificate | undefined;
    try {
      cert = d.verifier.verifyText(escaped, decodeURIComponent);
    } catch (err) {
      // Only the decoding is the caller's fault; anything else is ours and stays a 500.
      if (!(err instanceof URIError)) throw err;
      throw new HttpError(401, 'invalid-certificate', `${CERTIFICATE_HEADER}: not URL-encoded PEM`, {
        cause: err,
      });
    }
    return reviewCertificate(cert, c);
  }
  const given = req.get(FINGERPRINT_HEADER);
  if (given) {
    const fingerprint = normaliseFingerprint(given);
    if (!fingerprint)
      throw new HttpError(401, 'invalid-fingerprint', `${FINGERPRINT_HEADER}: not 64 hexadecimal digits`);
    return reviewFingerprint(fingerprint, c);
  }
  throw new HttpError(401, 'no-certificate', `send ${CERTIFICATE_HEADER} or ${FINGERPRINT_HEADER}`);
}

export function credentialReview(d: ReviewDeps): (req: Request, res: Response) => Promise<void> {
  return (req, res) => {
    const outcome = outcomeOf(req, d);
    // nginx keeps positive answers for as long as its own configuration says, never by our headers.
    res.setHeader('Cache-Control', 'no-store');
    if (!outcome.allowed) throw new HttpError(outcome.status, outcome.reason, MESSAGES[outcome.reason]);
    const i = outcome.identity;
    // Node's own setHeader: a gateway asks once per request it serves, and express's res.set/json
    // were a tenth of a review's time (bench/results/README.md).
    for (const [name, value] of Object.entries(identityHeaders(i))) res.setHeader(name, value);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.send(
      JSON.stringify({
        kind: i.kind,
        name: i.name,
        project: i.project,
        epoch: i.epoch,
        notAfter: i.notAfter.toISOString(),
        serial: i.serial,
        fingerprint: i.fingerprint,
      }),
    );
    return Promise.resolve();
  };
}
