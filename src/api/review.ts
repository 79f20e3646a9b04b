// Credential review: is this client certificate a current kubeusers credential, and whose? Answered
// from kubeusers' in-memory view of the accounts' states (no Kubernetes request per review), in the
// form nginx's auth_request uses: 2xx with identity headers, 401 (not a credential we know), 403 (a
// credential of ours that no longer counts), 503 (this replica cannot know right now).
import type { AccountKind } from '../model/account.ts';
import { parseEpochGroup } from '../model/names.ts';
import { certIsCurrent, type AccountState } from '../model/state.ts';
import { staleReason } from './credential.ts';

/** What kubeusers knows about the accounts, in memory: the cluster cache (src/cluster/cache.ts). */
export interface CredentialView {
  /** Every watch is live and has listed since its last break: otherwise nothing is answered. */
  synced(): boolean;
  state(kind: AccountKind, name: string): AccountState | undefined;
  /** The account whose current certificate has this SHA-256 fingerprint. */
  byFingerprint(fingerprint: string): AccountState | undefined;
}

/** A certificate whose signature chains to the cluster CA, with what a review reads from it. */
export interface VerifiedCertificate {
  fingerprint: string;
  serial: string;
  groups: string[];
  notBefore: Date;
  notAfter: Date;
}

export interface ReviewedIdentity {
  kind: AccountKind;
  name: string;
  project: string;
  epoch: number;
  notAfter: Date;
  serial: string;
  fingerprint: string;
}

export type ReviewReason =
  | 'not-synced'
  | 'untrusted-certificate'
  | 'expired-certificate'
  | 'certificate-not-yet-valid'
  | 'not-a-kubeusers-credential'
  | 'unknown-credential'
  | 'credential-revoked'
  | 'credential-superseded'
  | 'foreign-credential';

export type ReviewOutcome =
  | { allowed: true; identity: ReviewedIdentity }
  | { allowed: false; status: 401 | 403 | 503; reason: ReviewReason };

export interface ReviewContext {
  /** kubeusers' own namespace: the instance its epoch groups name. */
  instance: string;
  project: string;
  now: Date;
  view: CredentialView;
}

const deny = (status: 401 | 403 | 503, reason: ReviewReason): ReviewOutcome => ({
  allowed: false,
  status,
  reason,
});

function window(notBefore: Date, notAfter: Date, now: Date): ReviewOutcome | undefined {
  if (now.getTime() < notBefore.getTime()) return deny(401, 'certificate-not-yet-valid');
  if (now.getTime() > notAfter.getTime()) return deny(401, 'expired-certificate');
  return undefined;
}

/** The account a certificate's epoch group names (this installation's form or the legacy one). */
function accountOf(
  groups: readonly string[],
  instance: string,
): { kind: AccountKind; name: string } | undefined {
  for (const g of groups) {
    const p = parseEpochGroup(g);
    if (p && (p.form === 'legacy' || p.instance === instance)) return { kind: p.kind, name: p.name };
  }
  return undefined;
}

/**
 * A verified certificate (undefined: it does not chain to the cluster CA). Accepted when it carries
 * an epoch group still bound for its account, exactly as kube-apiserver's RBAC accepts it: a
 * renewal keeps the epoch, so the previous certificate counts until it expires; a revocation or a
 * lock moves the epoch, so it stops counting at once. The account's current certificate is also
 * accepted by its fingerprint alone (a maintain-kubeusers certificate adopted by name has no group).
 */
export function reviewCertificate(cert: VerifiedCertificate | undefined, c: ReviewContext): ReviewOutcome {
  if (!c.view.synced()) return deny(503, 'not-synced');
  if (!cert) return deny(401, 'untrusted-certificate');
  const early = window(cert.notBefore, cert.notAfter, c.now);
  if (early) return early;
  const named = accountOf(cert.groups, c.instance);
  const state = named ? c.view.state(named.kind, named.name) : undefined;
  if (!named) {
    const adopted = c.view.byFingerprint(cert.fingerprint);
    return adopted ? byState(adopted, cert.fingerprint, c) : deny(401, 'not-a-kubeusers-credential');
  }
  const states = new Map([[`${named.kind}/${named.name}`, state]]);
  const stale = staleReason(cert.groups, c.instance, false, states);
  if (stale || !state) return deny(403, stale ?? 'credential-revoked');
  return {
    allowed: true,
    identity: {
      kind: state.kind,
      name: state.name,
      project: c.project,
      epoch: state.epoch,
      notAfter: cert.notAfter,
      serial: cert.serial,
      fingerprint: cert.fingerprint,
    },
  };
}

function byState(s: AccountState, fingerprint: string, c: ReviewContext): ReviewOutcome {
  if (s.status === 'locked' || s.status === 'revoked') return deny(403, 'credential-revoked');
  if (!certIsCurrent(c.instance, s)) return deny(403, 'credential-superseded');
  if (!s.notAfter || !s.notBefore || !s.serial) return deny(401, 'unknown-credential');
  const early = window(s.notBefore, s.notAfter, c.now);
  if (early) return early;
  return {
    allowed: true,
    identity: {
      kind: s.kind,
      name: s.name,
      project: c.project,
      epoch: s.epoch,
      notAfter: s.notAfter,
      serial: s.serial,
      fingerprint,
    },
  };
}

/**
 * A SHA-256 fingerprint alone: only an account's current certificate is known by it (the state keeps
 * one fingerprint per account), so a previous, still-valid certificate is refused in this form.
 */
export function reviewFingerprint(fingerprint: string, c: ReviewContext): ReviewOutcome {
  if (!c.view.synced()) return deny(503, 'not-synced');
  const state = c.view.byFingerprint(fingerprint);
  return state ? byState(state, fingerprint, c) : deny(401, 'unknown-credential');
}

/** The headers nginx passes on to the service behind it (auth_request_set $x $upstream_http_x_kubeusers_…). */
export function identityHeaders(i: ReviewedIdentity): Record<string, string> {
  return {
    'X-Kubeusers-Kind': i.kind,
    'X-Kubeusers-Name': i.name,
    'X-Kubeusers-Project': i.project,
    'X-Kubeusers-Epoch': String(i.epoch),
    'X-Kubeusers-Not-After': i.notAfter.toISOString(),
  };
}

/** `ab:CD:…` or `abcd…`: 64 hex digits, lower-cased; anything else is undefined. */
export function normaliseFingerprint(value: string): string | undefined {
  const hex = value.trim().replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}
