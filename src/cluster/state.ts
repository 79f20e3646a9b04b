// Per-account state, kept in the cluster (one ConfigMap per account in kubeusers' own namespace)
// so the daemon is stateless and a second replica can take over.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Account, AccountKind } from '../directory/account.ts';
import { labels, stateName } from './names.ts';

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
  status: AccountStatus;
  /** The epoch the current certificate carries. */
  certEpoch?: number;
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
    certEpoch: int,
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

export function initialState(account: Account, now: Date): AccountState {
  return {
    kind: account.kind,
    name: account.name,
    uid: account.uid,
    uidNumber: account.uidNumber,
    gidNumber: account.gidNumber,
    home: account.home,
    epoch: 1,
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
