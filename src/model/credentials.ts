// Which accounts end a one-shot run without working credentials although nothing failed in it: the
// ones whose issuance failed before and now wait out their backoff. A cron job must not read that as
// success (exit code 3, ADR 15).
import { accountKey, type Account } from './account.ts';
import type { AccountState } from './state.ts';
import { describeValidity, recordedValidity } from './validity.ts';
import type { AccountPlan } from './decide.ts';

export interface Waiting {
  /** `kind/name`. */
  account: string;
  /** Why it has none: the last error recorded, or what is wrong with the certificate recorded. */
  reason: string;
  /** When the next attempt is due, if it is backing off. */
  until?: Date;
}

/** Steps that deliver credentials: a run that had one for the account reports its outcome itself. */
const delivers = (p: AccountPlan): boolean =>
  p.steps.some((s) => s.do === 'issue' || s.do === 'adopt-or-issue');

/** Meant to have no credential (locked, revoked, leaving), or tried in this run (which reports itself). */
function notOurs(plan: AccountPlan, account: Account | undefined, state: AccountState | undefined): boolean {
  if (!account || !state || account.locked || plan.removal || delivers(plan)) return true;
  return state.status === 'revoked' || state.status === 'locked';
}

/**
 * The accounts of the directory, neither locked nor revoked (both are meant to have no credential),
 * that this run did not try to issue for and whose recorded certificate does not work at `now`.
 */
export function waitingAccounts(
  plans: readonly AccountPlan[],
  states: ReadonlyMap<string, AccountState>,
  accounts: ReadonlyMap<string, Account>,
  now: Date,
  toleranceMs?: number,
): Waiting[] {
  const waiting: Waiting[] = [];
  for (const plan of plans) {
    const key = accountKey(plan.kind, plan.name);
    const account = accounts.get(key);
    const state = states.get(key);
    if (notOurs(plan, account, state)) continue;
    const validity = recordedValidity(state!, now, toleranceMs);
    if (validity.validity === 'valid') continue;
    const none = validity.validity === 'none' ? 'no certificate issued yet' : describeValidity(validity);
    waiting.push({
      account: key,
      reason: state!.lastError ?? none,
      ...(state!.nextAttempt && state!.nextAttempt > now ? { until: state!.nextAttempt } : {}),
    });
  }
  return waiting;
}
