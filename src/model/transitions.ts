// Pure: how an account's state moves when a certificate is issued, adopted, fails, is revoked or
// locked. act.ts and revoke.ts perform the I/O around these; decide.ts plans with them. Time and the
// epoch's random part are passed in, never read here.
import type { Account, AccountKind } from './account.ts';
import { isSafeUserName } from './mapping.ts';
import type { Revocation } from './revocation.ts';
import { kindGroup, legacyKindGroup } from './names.ts';
import { boundGroups, certGroupOf, currentGroup, nextEpoch, type AccountState } from './state.ts';
import type { CertInfo } from './cert-info.ts';
import { backoffMs } from './renewal.ts';
import { DEFAULT_CLOCK_TOLERANCE_MS, validityAt, type Validity } from './validity.ts';
import { isLegacyCertificate } from './legacy.ts';

/** What a certificate's own fields put into the state. */
type Issued = Pick<CertInfo, 'serial' | 'fingerprint' | 'notBefore' | 'notAfter'>;

/** A renewal marks the state first, so a crash mid-issuance is followed by a look at the home. */
export function issuingState(state: AccountState, now: Date): AccountState {
  return { ...state, issuing: now };
}

/**
 * The state serving `cert`: active, no failure, nothing pending. Which group it carries (or which
 * legacy user) is the caller's to add.
 */
function servingState(state: AccountState, cert: Issued, now: Date): AccountState {
  const next: AccountState = {
    ...state,
    status: 'active',
    serial: cert.serial,
    fingerprint: cert.fingerprint,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    failures: 0,
    lastChange: now,
  };
  for (const k of ['issuing', 'nextAttempt', 'lastError'] as const) delete next[k];
  return next;
}

/** The state once a certificate of ours is issued and in the home. */
export function issuedState(
  state: AccountState,
  account: Pick<Account, 'uid'>,
  cert: Issued,
  group: string,
  now: Date,
): AccountState {
  const next: AccountState = {
    ...servingState(state, cert, now),
    uid: account.uid,
    certEpoch: state.epoch,
    certGroup: group,
  };
  delete next.legacyUser;
  return next;
}

/**
 * The state after an issuance failed: one failure more and the next attempt after a backoff that
 * grows with the failures and stays well inside what is left of the current certificate. An account
 * that still has a certificate keeps its status; one that never had one is in error.
 */
export function failedState(state: AccountState, now: Date, error: string): AccountState {
  const failures = state.failures + 1;
  const failed: AccountState = {
    ...state,
    status: state.serial ? state.status : 'error',
    failures,
    lastError: error.slice(0, 500),
    nextAttempt: new Date(now.getTime() + backoffMs(failures, now, state.notAfter)),
    lastChange: now,
  };
  delete failed.issuing;
  return failed;
}

/** What the state says about files left alone in the home, shown by `status` until the next issuance. */
export function leftAloneNote(messages: readonly string[]): Pick<AccountState, 'lastError'> {
  return messages.length > 0 ? { lastError: messages.join('; ').slice(0, 500) } : {};
}

/** A renewal of a previous release's certificate: both groups stay bound while the files change. */
export function bindsBothGroups(instance: string, state: AccountState): boolean {
  return boundGroups(instance, state).length > 1;
}

/** How far ahead of `now` a recorded certificate starts, when that is why it is replaced. */
export function stateSkewSeconds(state: AccountState, reason: string, now: Date): number | undefined {
  if (reason !== 'not-yet-valid' || !state.notBefore) return undefined;
  return Math.ceil((state.notBefore.getTime() - now.getTime()) / 1000);
}

/**
 * A lock: the epoch moves first (even if a delete after it fails, no certificate issued so far is
 * bound again), nothing is being issued or retried, and a maintain-kubeusers user name is never
 * bound again.
 */
export function lockedState(state: AccountState, epochSuffix: string, now: Date): AccountState {
  const locked: AccountState = { ...nextEpoch(state, epochSuffix, now), status: 'locked', failures: 0 };
  delete locked.legacyUser;
  delete locked.issuing;
  delete locked.nextAttempt;
  return locked;
}

/** Why a revocation cannot go ahead, as the API answers it. */
export interface RevocationRefusal {
  status: 404 | 409;
  reason: 'not-found' | 'conflict';
  message: string;
}

/** A state with a certificate to revoke. */
export type Revocable = AccountState & { serial: string; fingerprint: string };

/** Whether there is a credential to revoke: only a state with a certificate that is not locked. */
export function revocable(
  state: AccountState | undefined,
  kind: AccountKind,
  name: string,
): { state: Revocable } | { refused: RevocationRefusal } {
  if (!state) return { refused: { status: 404, reason: 'not-found', message: `no ${kind} named ${name}` } };
  if (state.status === 'locked')
    return {
      refused: {
        status: 409,
        reason: 'conflict',
        message: `${kind} ${name} is locked: it has no credential to revoke`,
      },
    };
  const { serial, fingerprint } = state;
  if (!serial || !fingerprint)
    return {
      refused: { status: 409, reason: 'conflict', message: `${kind} ${name} has no certificate yet` },
    };
  return { state: { ...state, serial, fingerprint } };
}

/**
 * The groups the revoked certificate may carry or that were bound for it until now: the identity
 * the cluster's authorizer is asked about, until it no longer allows what was granted.
 */
export function oldGroups(instance: string, state: AccountState): string[] {
  const cert = certGroupOf(state);
  const kind = [kindGroup(instance, state.kind), legacyKindGroup(state.kind)];
  return [...new Set([...kind, ...boundGroups(instance, state), ...(cert ? [cert] : [])])];
}

/**
 * A revocation: a new epoch with a new id (also for a previous release's state: the legacy group is
 * never bound again), no maintain-kubeusers user name, and `revoked` unless a new certificate follows.
 */
export function revokedState(
  state: AccountState,
  epochSuffix: string,
  now: Date,
  reissue: boolean,
): AccountState {
  const next: AccountState = {
    ...nextEpoch(state, epochSuffix, now),
    status: reissue ? state.status : 'revoked',
  };
  delete next.legacyUser;
  return next;
}

/** The ledger's record of a revoked certificate (the state as it was before the revocation). */
export function revocationEntry(
  state: Revocable,
  req: { kind: AccountKind; name: string; actor: string; reason: string },
  now: Date,
): Revocation {
  return {
    serial: state.serial,
    fingerprint: state.fingerprint,
    kind: req.kind,
    account: req.name,
    epoch: state.certEpoch ?? state.epoch,
    actor: req.actor,
    reason: req.reason,
    time: now,
    ...(state.notAfter ? { notAfter: state.notAfter } : {}),
  };
}

/**
 * What to make of a certificate found in the home (its key matching and its signature by the
 * cluster's CA already checked):
 * - `ours`: an interrupted issuance of ours, carrying the group this state drew;
 * - `legacy`: maintain-kubeusers' exact format on a first look at the tool; adopted only if the
 *   ledger does not hold it and that daemon's ConfigMap is there (both read by the actor);
 * - `none`: replaced by a fresh certificate (with the validity, when it does not work now).
 */
export type HomeVerdict =
  | { use: 'ours'; state: AccountState }
  | { use: 'legacy'; state: AccountState }
  | { use: 'none'; validity?: Validity };

export function homeCertificate(
  state: AccountState,
  account: Pick<Account, 'kind' | 'name' | 'uid'>,
  cert: CertInfo,
  now: Date,
  s: { instance: string; clockSkewToleranceMs?: number },
): HomeVerdict {
  const validity = validityAt(cert, now, s.clockSkewToleranceMs ?? DEFAULT_CLOCK_TOLERANCE_MS);
  // Only a certificate that works now is adopted; any other is replaced.
  if (validity.validity !== 'valid') return { use: 'none', validity };
  const base = servingState(state, cert, now);
  // A group read from a home is never bound again (an earlier life, a lost state): only the one drawn.
  const group = currentGroup(s.instance, state);
  if (state.epochId && cert.commonName === account.uid && cert.groups.includes(group))
    return { use: 'ours', state: { ...base, certEpoch: state.epoch, certGroup: group } };
  if (!state.serial && isLegacyCertificate(cert, account) && isSafeUserName(cert.commonName)) {
    // Bound by user name until it is renewed.
    const adopted: AccountState = { ...base, legacyUser: cert.commonName };
    delete adopted.certEpoch;
    delete adopted.certGroup;
    return { use: 'legacy', state: adopted };
  }
  return { use: 'none' };
}
