// Revocation: the account's epoch moves on and its bindings are rewritten, so the old certificate
// loses every right kubeusers granted; the answer comes only once the cluster's authorizer agrees.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AccountKind } from '../model/account.ts';
import type { Clock } from '../clock.ts';
import type { Clients } from '../cluster/client.ts';
import { isNotFound } from '../cluster/errors.ts';
import type { EventSink } from '../cluster/events.ts';
import type { Ledger, Revocation } from '../cluster/ledger.ts';
import { stateName, toolNamespace } from '../model/names.ts';
import { accountFromState, parseState, type AccountState } from '../model/state.ts';
import { systemRandom, type Random } from '../random.ts';
import type { Logger } from '../log.ts';
import { accountEvent } from './account-event.ts';
import type { DecideSettings } from '../model/decide.ts';
import { applyGrants, dropLegacyAdminBindings } from './grants.ts';
import {
  oldGroups,
  revocable,
  revocationEntry,
  revokedState,
  type RevocationRefusal,
} from '../model/transitions.ts';
import type { KeyedMutex } from './pool.ts';

export interface RevokeDeps {
  clients: Clients;
  actor: StateWriter;
  ledger: Ledger;
  mutex: KeyedMutex;
  clock: Clock;
  log: Logger;
  ownNamespace: string;
  decide: DecideSettings;
  onRevoked?: (r: Revocation) => void;
  /** Events go through it (queued and retried); without it, one attempt each. */
  recorder?: EventSink;
  /** Draws the new epoch's id. */
  random?: Random;
}

/** Saves an account's state (the Actor, which counts versions so a plan made from an older state is dropped). */
export interface StateWriter {
  saveState(state: AccountState): Promise<void>;
}

/** A revocation refused: nothing to revoke (`not-found`), or nothing revocable (`conflict`). */
export class RevokeError extends Error {
  readonly status: 404 | 409;
  readonly reason: 'not-found' | 'conflict';

  constructor(refusal: RevocationRefusal) {
    super(refusal.message);
    this.status = refusal.status;
    this.reason = refusal.reason;
  }
}

/** The bindings were rewritten but the cluster's authorizer still allows the old identity. */
export class CutOffTimeoutError extends Error {
  readonly reason = 'cut-off-timeout';
}

export async function readState(
  clients: Clients,
  ownNamespace: string,
  kind: AccountKind,
  name: string,
): Promise<AccountState | undefined> {
  try {
    return parseState(
      await clients.core.readNamespacedConfigMap({ namespace: ownNamespace, name: stateName(kind, name) }),
    );
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Asks the cluster's own authorizer whether the old identity can still use what it was granted. */
async function stillAllowed(d: RevokeDeps, state: AccountState): Promise<boolean> {
  const ns = state.kind === 'tool' ? toolNamespace(d.decide.namespacePrefix, state.name) : undefined;
  const review = await d.clients.authorization.createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: state.uid,
        groups: [...oldGroups(d.decide.instance, state), 'system:authenticated'],
        resourceAttributes: {
          verb: 'list',
          resource: state.kind === 'tool' ? 'configmaps' : 'pods',
          ...(ns ? { namespace: ns } : {}),
        },
      },
    },
  });
  return review.status?.allowed === true;
}

/**
 * The apiserver's RBAC authorizer sees a rewritten binding through its own watch, a few milliseconds
 * after the write: asked often, so the answer goes out soon after; one review is a cheap request.
 */
const CUT_OFF_POLL_MS = 5;
const CUT_OFF_TIMEOUT_MS = 5_000;

async function waitCutOff(d: RevokeDeps, state: AccountState): Promise<void> {
  const deadline = performance.now() + CUT_OFF_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (!(await stillAllowed(d, state))) return;
    await sleep(CUT_OFF_POLL_MS);
  }
  throw new CutOffTimeoutError(
    `the old credential of ${state.kind} ${state.name} is still authorised after 5 s`,
  );
}

export interface RevokeRequest {
  kind: AccountKind;
  name: string;
  actor: string;
  reason: string;
  reissue: boolean;
}

export async function revoke(d: RevokeDeps, req: RevokeRequest): Promise<Revocation> {
  return d.mutex.run(`${req.kind}/${req.name}`, async () => {
    const check = revocable(
      await readState(d.clients, d.ownNamespace, req.kind, req.name),
      req.kind,
      req.name,
    );
    if ('refused' in check) throw new RevokeError(check.refused);
    const { state } = check;
    const now = d.clock.now();
    const next = revokedState(state, (d.random ?? systemRandom).epochSuffix(), now, req.reissue);
    // The epoch is saved before the bindings change, so no sync can bind the old one again.
    await d.actor.saveState(next);
    const account = accountFromState(next);
    await applyGrants(d.clients, account, next, d.decide);
    if (req.kind === 'admin') await dropLegacyAdminBindings(d.clients, req.name, d.decide);
    const entry = revocationEntry(state, req, now);
    // The bindings moved first; the ledger entry only adds refusals (credential reviews), so it is
    // written while the authorizer catches up, and both are done before the answer.
    await Promise.all([waitCutOff(d, state), d.ledger.record(entry)]);
    d.onRevoked?.(entry);
    d.log.info(
      {
        account: req.name,
        kind: req.kind,
        action: 'revoke',
        serial: entry.serial,
        fingerprint: entry.fingerprint,
        actor: req.actor,
        reason: req.reason,
      },
      'credential revoked',
    );
    await accountEvent(
      d,
      req.kind,
      req.name,
      'CredentialRevoked',
      `certificate ${entry.serial} (sha256 ${entry.fingerprint}) revoked by ${req.actor}: ${req.reason}`,
    );
    return entry;
  });
}
