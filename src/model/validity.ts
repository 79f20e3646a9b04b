// Pure checks of a certificate's validity window and of the signer's answer. The clock is passed in.
import type { CertInfo } from './cert-info.ts';

/** Clocks of this host and of the cluster may differ this much before a certificate counts as not valid yet. */
export const DEFAULT_CLOCK_TOLERANCE_MS = 60_000;

export interface Window {
  notBefore: Date;
  notAfter: Date;
}

export type Validity =
  | { validity: 'valid' }
  /** Starts `skewSeconds` after `now`: the issuer's clock runs ahead of ours, or the certificate is forged. */
  | { validity: 'not-yet-valid'; skewSeconds: number }
  | { validity: 'expired' };

/** Whether a certificate works at `now`; one that starts later than `now + tolerance` does not. */
export function validityAt(w: Window, now: Date, toleranceMs = DEFAULT_CLOCK_TOLERANCE_MS): Validity {
  if (w.notAfter.getTime() <= now.getTime()) return { validity: 'expired' };
  const ahead = w.notBefore.getTime() - now.getTime();
  if (ahead > toleranceMs) return { validity: 'not-yet-valid', skewSeconds: Math.ceil(ahead / 1000) };
  return { validity: 'valid' };
}

/** The validity of a recorded certificate, if there is one (for `status`). */
export function recordedValidity(
  w: Partial<Window>,
  now: Date,
  toleranceMs = DEFAULT_CLOCK_TOLERANCE_MS,
): Validity | { validity: 'none' } {
  if (!w.notBefore || !w.notAfter) return { validity: 'none' };
  return validityAt({ notBefore: w.notBefore, notAfter: w.notAfter }, now, toleranceMs);
}

/** One line for an operator. */
export function describeValidity(v: Validity | { validity: 'none' }): string {
  if (v.validity === 'not-yet-valid')
    return `not yet valid: starts ${v.skewSeconds} s ahead of this clock (clock skew?)`;
  return v.validity;
}

/** What was asked of the signer. */
export interface Requested {
  commonName: string;
  groups: readonly string[];
  expirationSeconds: number;
  /** When the CSR was created. */
  at: Date;
}

export type IssuedProblemReason =
  'subject-mismatch' | 'groups-mismatch' | 'not-yet-valid' | 'expired' | 'lifetime-too-long';

export interface IssuedProblem {
  reason: IssuedProblemReason;
  message: string;
  /** For `not-yet-valid`: how far the certificate's start is ahead of our clock. */
  skewSeconds?: number;
}

type Issued = Pick<CertInfo, 'commonNames' | 'groups' | 'notBefore' | 'notAfter'>;
type Check = (c: Issued, r: Requested, now: Date, toleranceMs: number) => IssuedProblem | undefined;

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

// Each check says what is wrong or nothing; the first that speaks wins.
const CHECKS: Check[] = [
  // Exactly one CN, the one asked for: it becomes the Kubernetes user name.
  (c, r) =>
    c.commonNames.length === 1 && c.commonNames[0] === r.commonName
      ? undefined
      : {
          reason: 'subject-mismatch',
          message: `the signer returned user "${c.commonNames.join('" + "')}", not "${r.commonName}"`,
        },
  // Exactly the groups asked for, no more (a group is a right) and no fewer (the epoch group binds).
  (c, r) =>
    sameSet(c.groups, r.groups)
      ? undefined
      : {
          reason: 'groups-mismatch',
          message: `the signer returned groups [${c.groups.join(', ')}], not [${r.groups.join(', ')}]`,
        },
  (c, _r, now, tol) => {
    const v = validityAt(c, now, tol);
    if (v.validity === 'not-yet-valid')
      return {
        reason: 'not-yet-valid',
        message: `the signer's certificate starts at ${c.notBefore.toISOString()}, ${v.skewSeconds} s ahead of this clock (clock skew)`,
        skewSeconds: v.skewSeconds,
      };
    if (v.validity === 'expired')
      return {
        reason: 'expired',
        message: `the signer's certificate ended at ${c.notAfter.toISOString()}, before ${now.toISOString()} (clock skew?)`,
      };
    return undefined;
  },
  // The signer may shorten the lifetime (its --cluster-signing-duration), never lengthen it.
  (c, r, _now, tol) => {
    const limit = r.at.getTime() + r.expirationSeconds * 1000 + tol;
    return c.notAfter.getTime() <= limit
      ? undefined
      : {
          reason: 'lifetime-too-long',
          message: `the signer's certificate lasts until ${c.notAfter.toISOString()}, beyond the ${r.expirationSeconds} s asked for`,
        };
  },
];

/** Whether the signer's certificate is exactly what was asked for, and works now. */
export function issuedProblem(
  cert: Issued,
  requested: Requested,
  now: Date,
  toleranceMs = DEFAULT_CLOCK_TOLERANCE_MS,
): IssuedProblem | undefined {
  for (const check of CHECKS) {
    const problem = check(cert, requested, now, toleranceMs);
    if (problem) return problem;
  }
  return undefined;
}
