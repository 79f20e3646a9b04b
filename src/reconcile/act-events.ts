// What metrics and the audit trail hear from the actor (its own file: the actor and the code that
// puts objects back both report through it, and neither imports the other).
import type { Account } from '../model/account.ts';
import type { AccountState } from '../model/state.ts';
import type { IssueReason } from '../model/decide.ts';

/** What metrics and the audit trail hear about. */
export interface ActEvents {
  saved?(state: AccountState): void;
  removed?(kind: Account['kind'], name: string): void;
  issued?(account: Account, state: AccountState, reason: IssueReason | 'adopted', signSeconds: number): void;
  failed?(account: Account, reason: string): void;
  /** A certificate that starts after now: clock skew between this host and the signer, or a forgery. */
  notYetValid?(account: Account, source: NotYetValidSource, skewSeconds: number): void;
  /** An object of this kind held other content than kubeusers wrote, and was put back. */
  reverted?(kind: string): void;
}

/** Where a not-yet-valid certificate was found. */
export type NotYetValidSource = 'home' | 'state' | 'signer';
