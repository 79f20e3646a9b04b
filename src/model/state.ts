// Per-account state, kept in the cluster (one ConfigMap per account in kubeusers' own namespace)
// so the daemon is stateless and a second replica can take over.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Account, AccountKind } from './account.ts';
import { epochGroup, epochId, labels, legacyEpochGroup, stateName } from './names.ts';

/** `revoked`: an admin took the credential away without a reissue; nothing is issued until a renew. */
export type AccountStatus = 'pending' | 'active' | 'locked' | 'revoked' | 'error';

export interface AccountState {
  kind: AccountKind;
  name: string;
  uid: string;
  uidNumber: number;
  gidNumber: number;
  home: string;
  /** Bumped by every lock and revocation; only this epoch's group is bound. */
  epoch: number;
  /**
   * `<epoch>-<random>`, drawn at every epoch transition and never reused: it names the epoch in the
   * group. Absent in states written by the previous release, whose certificates carry the legacy
   * group `kubeusers:<kind>:<name>:<epoch>` until their normal renewal.
   */
  epochId?: string;
  status: AccountStatus;
  /** The epoch the current certificate carries. */
  certEpoch?: number;
  /** The exact epoch group the current certificate carries (absent: the legacy group of certEpoch). */
  certGroup?: string;
  serial?: string;
  fingerprint?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** A user name adopted from maintain-kubeusers, bound until that certificate is replaced. */
  legacyUser?: string;
  /** Set while a certificate is being issued: after a crash, the home is checked before reissuing. */
  issuing?: Date;
  failures: number;
  nextAttempt?: Date;
  lastError?: string;
  lastChange: Date;
}

const date = (s: string | undefined): Date | undefined => {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
};

const int = (s: string | undefined): number | undefined =>
  s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;

const STATUSES: readonly AccountStatus[] = ['pending', 'active', 'locked', 'revoked', 'error'];

/** The optional fields, each read with its own parser; absent or unreadable ones are left out. */
function optionalFields(d: Record<string, string>): Partial<AccountState> {
  const parsers: Record<string, (v: string | undefined) => unknown> = {
    epochId: (v) => (v !== undefined && /^\d+-[a-z0-9]+$/.test(v) ? v : undefined),
    certEpoch: int,
    certGroup: (v) => v,
    serial: (v) => v,
    fingerprint: (v) => v,
    notBefore: date,
    notAfter: date,
    legacyUser: (v) => v,
    nextAttempt: date,
    issuing: date,
    lastError: (v) => v,
  };
  const out: Record<string, unknown> = {};
  for (const [k, parse] of Object.entries(parsers)) {
    const v = parse(d[k]);
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

function required(
  d: Record<string, string>,
): Pick<AccountState, 'uid' | 'uidNumber' | 'gidNumber' | 'home' | 'status' | 'failures' | 'lastChange'> {
  return {
    uid: d.uid ?? d.name ?? '',
    uidNumber: int(d.uidNumber) ?? 0,
    gidNumber: int(d.gidNumber) ?? 0,
    home: d.home ?? '',
    status: STATUSES.find((s) => s === d.status) ?? 'pending',
    failures: int(d.failures) ?? 0,
    lastChange: date(d.lastChange) ?? new Date(0),
  };
}

export function parseState(cm: V1ConfigMap): AccountState | undefined {
  const d = cm.data ?? {};
  const kind = d.kind;
  const epoch = int(d.epoch);
  if ((kind !== 'tool' && kind !== 'admin') || !d.name || epoch === undefined) return undefined;
  return {
    kind,
    name: d.name,
    ...required(d),
    epoch,
    ...optionalFields(d),
  };
}

export function stateConfigMap(
  namespace: string,
  s: AccountState,
): V1ConfigMap & { metadata: { name: string } } {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    data[k] = v instanceof Date ? v.toISOString() : String(v as string | number);
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: stateName(s.kind, s.name),
      namespace,
      labels: labels(namespace, s.kind, s.name, 'state'),
    },
    data,
  };
}

/** A fresh state: epoch 1 with a new random id, so nothing issued to an earlier life is bound. */
export function initialState(account: Account, now: Date, random: string): AccountState {
  return {
    kind: account.kind,
    name: account.name,
    uid: account.uid,
    uidNumber: account.uidNumber,
    gidNumber: account.gidNumber,
    home: account.home,
    epoch: 1,
    epochId: epochId(1, random),
    status: 'pending',
    failures: 0,
    lastChange: now,
  };
}

/** The account as last seen, from state alone: renewals go on while the directory is unreachable. */
export function accountFromState(s: AccountState): Account {
  return {
    kind: s.kind,
    name: s.name,
    uid: s.uid,
    uidNumber: s.uidNumber,
    gidNumber: s.gidNumber,
    home: s.home,
    locked: s.status === 'locked',
    dn: '',
  };
}

/** The next epoch (a lock or a revocation), with a new random id. */
export function nextEpoch(state: AccountState, random: string, now: Date): AccountState {
  return { ...state, epoch: state.epoch + 1, epochId: epochId(state.epoch + 1, random), lastChange: now };
}

/** The same epoch under a new-form id: a previous release's state at its first issuance. */
export function withEpochId(state: AccountState, random: string): AccountState {
  return state.epochId ? state : { ...state, epochId: epochId(state.epoch, random) };
}

/** The group a certificate issued now carries, and that the bindings name. */
export function currentGroup(instance: string, s: AccountState): string {
  return s.epochId
    ? epochGroup(instance, s.kind, s.name, s.epochId)
    : legacyEpochGroup(s.kind, s.name, s.epoch);
}

/** The group the account's current certificate carries, rebuilt for a previous release's state. */
export function certGroupOf(s: AccountState): string | undefined {
  if (s.certGroup) return s.certGroup;
  return s.certEpoch !== undefined ? legacyEpochGroup(s.kind, s.name, s.certEpoch) : undefined;
}

/** The current certificate carries the current epoch's group (or is maintain-kubeusers', bound by name). */
export function certIsCurrent(instance: string, s: AccountState): boolean {
  if (s.legacyUser !== undefined && s.certEpoch === undefined) return true;
  return s.certEpoch === s.epoch && certGroupOf(s) === currentGroup(instance, s);
}

/**
 * The epoch groups the account's bindings name: the current one, and, while a previous release's
 * certificate of this same epoch is being renewed into the new form, the group it carries. A group
 * of an earlier epoch is never among them.
 */
export function boundGroups(instance: string, s: AccountState): string[] {
  const current = currentGroup(instance, s);
  const legacy = legacyEpochGroup(s.kind, s.name, s.epoch);
  const renewing =
    s.epochId !== undefined &&
    s.certEpoch === s.epoch &&
    certGroupOf(s) === legacy &&
    s.status !== 'revoked' &&
    s.status !== 'locked';
  return renewing ? [current, legacy] : [current];
}
