// One revoked certificate, as the ledger keeps it and the model decides with it.
import type { AccountKind } from './account.ts';

export interface Revocation {
  serial: string;
  fingerprint: string;
  kind: AccountKind;
  account: string;
  /** The epoch the revoked certificate carried. */
  epoch: number;
  actor: string;
  reason: string;
  time: Date;
  notAfter?: Date;
}
