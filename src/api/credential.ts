// Is a kubeusers certificate still the account's current credential? The cluster cannot say (it never
// checks revocation), so the admin API asks the revocation ledger and the accounts' states itself.
import { createHash } from 'node:crypto';
import type { AccountKind } from '../model/account.ts';
import { parseEpochGroup } from '../model/names.ts';
import { boundGroups, type AccountState } from '../model/state.ts';
import { x509 } from '../pki/crypto.ts';

export interface CredentialDeps {
  /** This installation (kubeusers' own namespace): the instance its groups name. */
  instance: string;
  stateOf: (kind: AccountKind, name: string) => Promise<AccountState | undefined>;
  /** The certificate (serial and SHA-256 fingerprint, lower-case hex) is in the revocation ledger. */
  isRevoked: (serial: string, fingerprint: string) => Promise<boolean>;
  /** How serial and fingerprint are read from the DER (a memory of `certificateIds` in the daemon). */
  ids?: (raw: Buffer) => { serial: string; fingerprint: string };
}

export type StaleReason = 'credential-revoked' | 'credential-superseded' | 'foreign-credential';

const key = (kind: AccountKind, name: string): string => `${kind}/${name}`;

/**
 * Why a certificate must be refused, if it must: it is in the ledger; an epoch group it carries
 * names another installation; or names an account whose state is gone, locked, revoked or has moved
 * to another epoch (a removed and re-added account, a lost state, a revocation). Pure: the ledger's
 * answer and the states are gathered first. Certificates with no kubeusers epoch group are left to RBAC.
 */
export function staleReason(
  groups: readonly string[],
  instance: string,
  inLedger: boolean,
  states: ReadonlyMap<string, AccountState | undefined>,
): StaleReason | undefined {
  if (inLedger) return 'credential-revoked';
  for (const g of groups) {
    const p = parseEpochGroup(g);
    if (!p) continue;
    if (p.form === 'current' && p.instance !== instance) return 'foreign-credential';
    const state = states.get(key(p.kind, p.name));
    if (!state || state.status === 'locked' || state.status === 'revoked') return 'credential-revoked';
    if (!boundGroups(instance, state).includes(g)) return 'credential-superseded';
  }
  return undefined;
}

/** Serial and fingerprint as the ledger writes them (see pki/cert.ts), from the peer's DER. */
export function certificateIds(raw: Buffer): { serial: string; fingerprint: string } {
  return {
    serial: new x509.X509Certificate(new Uint8Array(raw)).serialNumber.toLowerCase(),
    fingerprint: createHash('sha256').update(raw).digest('hex'),
  };
}

const MESSAGES: Record<StaleReason, string> = {
  'credential-revoked': 'this credential has been revoked',
  'credential-superseded': 'this credential is not the current one of its account',
  'foreign-credential': 'this credential was issued by another kubeusers installation',
};

/**
 * `certificateIds`, remembered by fingerprint: reading the serial costs a full parse of the
 * certificate (milliseconds on a loaded machine), and a caller presents the same one on every request.
 */
export function rememberedIds(maxEntries = 10_000): (raw: Buffer) => { serial: string; fingerprint: string } {
  const serials = new Map<string, string>();
  // A connection's peer certificate is one Buffer for its whole life (peer-certificate.ts keeps it):
  // its requests after the first cost no digest.
  const byBuffer = new WeakMap<Buffer, { serial: string; fingerprint: string }>();
  return (raw) => {
    const known = byBuffer.get(raw);
    if (known) return known;
    const fingerprint = createHash('sha256').update(raw).digest('hex');
    let serial = serials.get(fingerprint);
    if (serial === undefined) {
      serial = certificateIds(raw).serial;
      if (serials.size >= maxEntries) serials.delete(serials.keys().next().value!);
      serials.set(fingerprint, serial);
    }
    const ids = { serial, fingerprint };
    byBuffer.set(raw, ids);
    return ids;
  };
}

/** The refusal, gathered: the ledger and the state of every account an epoch group names. */
export async function checkCredential(
  raw: Buffer,
  groups: readonly string[],
  d: CredentialDeps,
): Promise<{ reason: StaleReason; message: string } | undefined> {
  const ids = (d.ids ?? certificateIds)(raw);
  const states = new Map<string, AccountState | undefined>();
  for (const g of groups) {
    const p = parseEpochGroup(g);
    if (p && (p.form === 'legacy' || p.instance === d.instance))
      states.set(key(p.kind, p.name), await d.stateOf(p.kind, p.name));
  }
  const reason = staleReason(groups, d.instance, await d.isRevoked(ids.serial, ids.fingerprint), states);
  return reason ? { reason, message: MESSAGES[reason] } : undefined;
}
