// When a certificate is due: at a share of its real lifetime, spread by a jitter that is fixed per
// certificate (so every replica and every run agrees), and backed off after failures.
import { hash } from 'node:crypto';

export interface RenewalPolicy {
  renewFraction: number;
  jitterFraction: number;
}

const MIN_BACKOFF_MS = 30_000;
const MAX_BACKOFF_MS = 3_600_000;

/** A number in [0, 1) fixed by the seed (asked twice per account per sync: the one-shot hash). */
export function unitFromSeed(seed: string): number {
  return hash('sha256', seed, 'buffer').readUInt32BE(0) / 0x1_0000_0000;
}

export function renewalTime(notBefore: Date, notAfter: Date, policy: RenewalPolicy, seed: string): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const jitter = lifetime * policy.jitterFraction * unitFromSeed(seed);
  return new Date(notBefore.getTime() + lifetime * policy.renewFraction - jitter);
}

/**
 * An account's renewal time, kept per state record and policy (a saved state is a new record): a
 * resync at 10,000 accounts hashed every account's seed twice (~4 % of its CPU).
 */
const dueOf = new WeakMap<object, { policy: RenewalPolicy; at: number }>();
export function stateRenewalTime(
  state: { kind: string; name: string; serial?: string; notBefore?: Date; notAfter?: Date },
  policy: RenewalPolicy,
): Date | undefined {
  const { serial, notBefore, notAfter } = state;
  if (!serial || !notBefore || !notAfter) return undefined;
  const kept = dueOf.get(state);
  if (kept?.policy === policy) return new Date(kept.at);
  const at = renewalTime(notBefore, notAfter, policy, `${state.kind}/${state.name}/${serial}`);
  dueOf.set(state, { policy, at: at.getTime() });
  return at;
}

/**
 * The wait before retrying after `failures` consecutive failures: exponential from 30 s, capped at
 * an hour and at a tenth of the time the current certificate has left, so retries stay frequent
 * while there is still time to renew.
 */
export function backoffMs(failures: number, now: Date, notAfter?: Date): number {
  const exp = MIN_BACKOFF_MS * 2 ** Math.max(0, Math.min(failures - 1, 20));
  const remaining = notAfter ? notAfter.getTime() - now.getTime() : Infinity;
  const cap = Math.max(MIN_BACKOFF_MS, Math.min(MAX_BACKOFF_MS, remaining / 10));
  return Math.min(exp, cap);
}
