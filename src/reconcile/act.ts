// act: carries out one account's steps, in order. Every step is idempotent, so a crash at any point
// is repaired by the next sync.
import type { Account } from '../model/account.ts';
import type { Clock } from '../clock.ts';
import type { Clients } from '../cluster/client.ts';
import type { ClusterInfo } from '../cluster/cluster-info.ts';
import {
  describeError,
  isForbidden,
  isNotFound,
  isNotLeader,
  isUnreachable,
  statusOf,
} from '../cluster/errors.ts';
import type { EventSink } from '../cluster/events.ts';
import { CsrFailedError, CsrWaitError } from '../cluster/csr.ts';
import { HomeError } from '../homes/safe-fs.ts';
import { cleanupCsr, IssueError, issueCertificate, type IssueSettings } from '../cluster/issuer.ts';
import { applyObject, deleteObject } from '../cluster/objects.ts';
import type { Desired } from '../model/manifests.ts';
import { putBack } from './revert.ts';
import { Ledger } from '../cluster/ledger.ts';
import { stateName, toolNamespace } from '../model/names.ts';
import { currentGroup, stateConfigMap, type AccountState } from '../model/state.ts';
import type { Credentials, Homes } from '../homes/homes.ts';
import type { KubeconfigEntry } from '../homes/kubeconfig.ts';
import type { Logger } from '../log.ts';
import { certInfo, certMatchesKey, parseCertificatePem, type CertInfo } from '../pki/cert.ts';
import { issueReason, type DecideSettings, type IssueReason, type Step } from '../model/decide.ts';
import { applyGrants } from './grants.ts';
import { accountEvent } from './account-event.ts';
import {
  bindsBothGroups,
  failedState,
  homeCertificate,
  issuedState,
  issuingState,
  leftAloneNote,
  stateSkewSeconds,
} from '../model/transitions.ts';
import type { ActEvents, NotYetValidSource } from './act-events.ts';

export interface ActDeps {
  clients: Clients;
  homes: Homes;
  clock: Clock;
  log: Logger;
  ownNamespace: string;
  clusterName: string;
  clusterInfo: ClusterInfo;
  issue: IssueSettings;
  decide: DecideSettings;
  events?: ActEvents;
  /** Events go through it (queued and retried); without it, one attempt each. */
  recorder?: EventSink;
  /** Fault injection for crash tests: called at named points of an issuance. */
  point?: (name: string) => void;
}

export type { ActEvents, NotYetValidSource } from './act-events.ts';

export class Actor {
  readonly #d: ActDeps;
  /** Bumped on every state write of an account; a plan made from an older state is dropped. */
  readonly #versions = new Map<string, number>();

  constructor(deps: ActDeps) {
    this.#d = deps;
  }

  async run(account: Account | undefined, kind: Account['kind'], name: string, step: Step): Promise<void> {
    const d = this.#d;
    switch (step.do) {
      case 'save-state':
        return this.saveState(step.state);
      case 'apply':
        return this.#apply(name, kind, step.object);
      case 'revert':
        return putBack(d, { kind, name }, step.object, 'tampered');
      case 'delete':
        await deleteObject(d.clients, step.ref);
        d.log.info(
          { account: name, kind, action: 'delete', object: `${step.ref.kind}/${step.ref.name}` },
          'deleted',
        );
        return;
      case 'remove-state':
        await deleteObject(d.clients, {
          kind: 'ConfigMap',
          name: stateName(kind, name),
          namespace: d.ownNamespace,
        });
        d.events?.removed?.(kind, name);
        d.log.info(
          { account: name, kind, action: 'remove' },
          'account removed from the cluster; its home is left as it is',
        );
        return;
      case 'flag':
        return this.#flag(account!, step.disabled);
      case 'adopt-or-issue':
        return this.#adoptOrIssue(account!, step.state);
      case 'issue':
        return this.issue(account!, step.state, step.reason);
    }
  }

  async #apply(name: string, kind: Account['kind'], object: Desired): Promise<void> {
    const d = this.#d;
    try {
      await applyObject(d.clients, object);
    } catch (err) {
      // 422: a field that cannot change in place (a binding's roleRef) differs: delete and create.
      if (statusOf(err) !== 422) throw err;
      return putBack(d, { kind, name }, object, 'immutable');
    }
    d.log.info(
      { account: name, kind, action: 'apply', object: `${object.kind}/${object.metadata.name}` },
      'applied',
    );
  }

  version(kind: Account['kind'], name: string): number {
    return this.#versions.get(`${kind}/${name}`) ?? 0;
  }

  versions(): Map<string, number> {
    return new Map(this.#versions);
  }

  async saveState(state: AccountState): Promise<void> {
    const key = `${state.kind}/${state.name}`;
    this.#versions.set(key, (this.#versions.get(key) ?? 0) + 1);
    await applyObject(this.#d.clients, stateConfigMap(this.#d.ownNamespace, state));
    this.#d.events?.saved?.(state);
  }

  async #flag(account: Account, disabled: boolean): Promise<void> {
    try {
      await this.#d.homes.setDisabledFlag(
        account,
        disabled,
        'This account is disabled: its Kubernetes credentials no longer work.',
      );
      this.#d.log.info(
        { account: account.name, kind: account.kind, action: disabled ? 'lock' : 'unlock' },
        disabled ? 'account locked: access cut' : 'account unlocked',
      );
    } catch (err) {
      // The cut-off itself happened in the cluster; the flag only tells the user.
      if (err instanceof HomeError) return this.#reportLeftAlone(account, [err]);
      this.#d.log.warn(
        { account: account.name, kind: account.kind, action: 'flag', err: (err as Error).message },
        'could not update the disabled flag',
      );
    }
  }

  async #adoptOrIssue(account: Account, state: AccountState): Promise<void> {
    const adopted = await this.#tryAdopt(account, state).catch((err: unknown) => {
      this.#d.log.debug({ account: account.name, err: (err as Error).message }, 'nothing to adopt');
      return undefined;
    });
    if (adopted) {
      const { state: adoptedState, creds } = adopted;
      await this.#adopt(account, adoptedState, creds);
      return;
    }
    await this.issue(account, state, state.serial ? 'due' : 'new');
  }

  async #adopt(account: Account, adopted: AccountState, creds: Credentials): Promise<void> {
    const reason = issueReason(adopted, account, this.#d.clock.now(), this.#d.decide);
    // The interruption may have come before the kubeconfig was merged: it is written (with the same
    // files) before the state says the account is served, so a crash here leads back to this step.
    const left = reason
      ? []
      : await this.#d.homes.writeCredentials(account, creds, this.#kubeconfigEntry(account));
    await this.saveState({ ...adopted, ...leftAloneNote(left.map((e) => e.message)) });
    await accountEvent(
      this.#d,
      account.kind,
      account.name,
      'CertificateAdopted',
      `certificate ${adopted.serial} (sha256 ${adopted.fingerprint}) valid until ${adopted.notAfter?.toISOString() ?? '?'}: adopted from the home${adopted.legacyUser ? " (maintain-kubeusers')" : ''}`,
    );
    this.#d.events?.issued?.(account, adopted, 'adopted', 0);
    this.#d.log.info(
      {
        account: account.name,
        kind: account.kind,
        action: 'adopt',
        serial: adopted.serial,
        fingerprint: adopted.fingerprint,
      },
      'adopted the certificate already in the home',
    );
    // maintain-kubeusers never made one of our CSRs: asking to delete one per migrated tool cost a
    // request each (1,000 at a 1,000-tool migration). A stray one of ours is swept by the sync anyway.
    if (!adopted.legacyUser) await cleanupCsr(this.#d.clients, account).catch(() => undefined);
    if (reason) return this.issue(account, adopted, reason);
    this.#throwIfLeftAlone(account, left);
  }

  #throwIfLeftAlone(account: Account, left: HomeError[]): void {
    if (left.length === 0) return;
    this.#reportLeftAlone(account, left);
    throw leftAloneError(left);
  }

  /** Files in the home kubeusers would have read or replaced, left alone: logged with their reason. */
  #reportLeftAlone(account: Account, left: HomeError[]): void {
    for (const err of left) {
      this.#d.events?.failed?.(account, failureReason(err));
      this.#logLeftAlone(account, err);
    }
    // Never rejects: without a recorder a failed attempt is logged.
    void accountEvent(this.#d, account.kind, account.name, 'HomeLeftAlone', {
      warning: `left alone in the home (${left.map((e) => e.reason).join(', ')}): ${leftAloneMessage(left)}`,
    });
  }

  #logLeftAlone(account: Account, err: HomeError): void {
    this.#d.log.warn(
      {
        account: account.name,
        kind: account.kind,
        action: 'home-left-alone',
        reason: err.reason,
        err: err.message,
      },
      'a file in the home is left alone',
    );
  }

  #kubeconfigEntry(account: Account): Omit<KubeconfigEntry, 'certPath' | 'keyPath'> {
    const d = this.#d;
    return {
      clusterName: d.clusterName,
      server: d.clusterInfo.server,
      caData: Buffer.from(d.clusterInfo.caPem).toString('base64'),
      userName: `${d.clusterName}-${account.uid}`,
      contextName: d.clusterName,
      ...(account.kind === 'tool'
        ? { namespace: toolNamespace(d.decide.namespacePrefix, account.name) }
        : {}),
    };
  }

  /** A certificate already in the home, from our own interrupted run or from maintain-kubeusers. */
  async #tryAdopt(
    account: Account,
    state: AccountState,
  ): Promise<{ state: AccountState; creds: Credentials } | undefined> {
    const { certPem, keyPem } = await this.#d.homes.readCredentials(account);
    if (!certPem || !keyPem || !(await certMatchesKey(certPem, keyPem))) return undefined;
    const ca = await parseCertificatePem(this.#d.clusterInfo.caPem);
    if (
      !(await (await parseCertificatePem(certPem)).verify({ publicKey: ca.publicKey, signatureOnly: true }))
    )
      return undefined;
    const info = await certInfo(certPem);
    const verdict = homeCertificate(state, account, info, this.#d.clock.now(), this.#d.decide);
    if (verdict.use === 'none' && verdict.validity?.validity === 'not-yet-valid')
      this.#notYetValid(account, 'home', verdict.validity.skewSeconds);
    if (verdict.use === 'ours') return { state: verdict.state, creds: { certPem, keyPem } };
    if (verdict.use === 'legacy' && (await this.#mayAdoptLegacy(account, info))) {
      // maintain-kubeusers' certificate: keep it working (bound by user name) until it is renewed.
      await applyGrants(this.#d.clients, account, verdict.state, this.#d.decide);
      return { state: verdict.state, creds: { certPem, keyPem } };
    }
    return undefined;
  }

  /**
   * A certificate in maintain-kubeusers' format (see homeCertificate) is adopted only if it is not
   * revoked and that daemon's ConfigMap is there.
   */
  async #mayAdoptLegacy(account: Account, info: CertInfo): Promise<boolean> {
    const ledger = new Ledger(this.#d.clients, this.#d.ownNamespace);
    if (await ledger.has(info.serial, info.fingerprint)) {
      this.#d.log.warn(
        { account: account.name, action: 'adopt', serial: info.serial },
        'the certificate in the home is in the revocation ledger: issuing instead of adopting',
      );
      return false;
    }
    return this.#hasLegacyState(account);
  }

  async #hasLegacyState(account: Account): Promise<boolean> {
    const namespace = toolNamespace(this.#d.decide.namespacePrefix, account.name);
    for (const name of ['maintain-kubeusers', `maintain-kubeusers-${account.name}`]) {
      try {
        const cm = await this.#d.clients.core.readNamespacedConfigMap({ namespace, name });
        if (cm.data?.expires) return true;
      } catch (err) {
        if (isForbidden(err)) {
          // Reading them takes deploy/migration's ClusterRole, bound only while migrating: without
          // it, a fresh certificate replaces the old one (safe, only not lazy).
          this.#d.log.warn(
            { account: account.name, action: 'adopt' },
            "kubeusers may not read maintain-kubeusers' ConfigMaps (deploy/migration is not applied): issuing instead of adopting",
          );
          return false;
        }
        if (!isNotFound(err)) throw err;
      }
    }
    return false;
  }

  #notYetValid(account: Account, source: NotYetValidSource, skewSeconds: number): void {
    this.#d.events?.notYetValid?.(account, source, skewSeconds);
    this.#d.log.warn(
      { account: account.name, kind: account.kind, action: 'not-yet-valid', source, skewSeconds },
      `a certificate from the ${source} starts ${skewSeconds} s ahead of this clock: it does not work yet, so it is not used (clock skew between this host and the signer?)`,
    );
  }

  /** A reissue because the recorded certificate does not work yet: the skew is told. */
  #reportStateSkew(account: Account, state: AccountState, reason: IssueReason, now: Date): void {
    const skew = stateSkewSeconds(state, reason, now);
    if (skew !== undefined) this.#notYetValid(account, 'state', skew);
  }

  async issue(account: Account, state: AccountState, reason: IssueReason): Promise<void> {
    const d = this.#d;
    const started = d.clock.now();
    this.#reportStateSkew(account, state, reason, started);
    // A renewal marks the state first, so a crash is followed by a look at the home. A first issuance
    // needs no mark: a state without a serial already leads there.
    if (state.serial) await this.saveState(issuingState(state, started));
    let left: HomeError[];
    try {
      const group = groupToIssue(d.decide.instance, state);
      const issued = await issueCertificate(d.clients, account, group, d.issue, {
        now: () => d.clock.now(),
        ...(d.point ? { point: d.point } : {}),
      });
      // A previous release's certificate being renewed: both groups are bound while the files change.
      const renewing = bindsBothGroups(d.decide.instance, state);
      if (renewing) await this.#bind(account, state);
      left = await d.homes.writeCredentials(
        account,
        { certPem: issued.certPem, keyPem: issued.keyPem },
        this.#kubeconfigEntry(account),
        d.point,
      );
      d.point?.('files-written');
      const now = d.clock.now();
      const next = issuedState(state, account, issued.info, group, now);
      // Delivered, but something in the home was left alone: `status` shows it until the next issuance.
      Object.assign(next, leftAloneNote(left.map((e) => e.message)));
      if (state.legacyUser || renewing) await this.#bind(account, next);
      await this.saveState(next);
      await this.#reportIssued(account, next, reason, (now.getTime() - started.getTime()) / 1000);
    } catch (err) {
      // The lease is gone: not this account's failure, and nothing may be written; the next leader goes on.
      if (isNotLeader(err)) this.#d.events?.failed?.(account, failureReason(err));
      else await this.#recordFailure(account, state, err);
      throw err;
    } finally {
      await cleanupCsr(d.clients, account).catch(() => undefined);
    }
    // The account is reported (sync result, log, metric), but its credentials are in place: no backoff.
    this.#throwIfLeftAlone(account, left);
  }

  /** The event, the metrics and the log line of an issued certificate. */
  async #reportIssued(
    account: Account,
    next: AccountState,
    reason: IssueReason,
    seconds: number,
  ): Promise<void> {
    const d = this.#d;
    await accountEvent(
      d,
      account.kind,
      account.name,
      reason === 'new' ? 'CertificateIssued' : 'CertificateRenewed',
      `certificate ${next.serial} (sha256 ${next.fingerprint}) valid until ${next.notAfter?.toISOString() ?? '?'}: ${reason}`,
    );
    d.events?.issued?.(account, next, reason, seconds);
    d.log.info(
      {
        account: account.name,
        kind: account.kind,
        action: 'issue',
        reason,
        serial: next.serial,
        fingerprint: next.fingerprint,
        notAfter: next.notAfter,
      },
      'certificate issued',
    );
  }

  /** Rewrites the account's bindings to name the groups this state binds. */
  async #bind(account: Account, state: AccountState): Promise<void> {
    const d = this.#d;
    await applyGrants(d.clients, account, state, d.decide);
  }

  async #recordFailure(account: Account, state: AccountState, err: unknown): Promise<void> {
    if (err instanceof IssueError && err.reason === 'not-yet-valid')
      this.#notYetValid(account, 'signer', err.skewSeconds ?? 0);
    if (err instanceof HomeError) this.#logLeftAlone(account, err);
    const failed = failedState(state, this.#d.clock.now(), describeError(err));
    const reason = failureReason(err);
    this.#d.events?.failed?.(account, reason);
    await this.saveState(failed).catch(() => undefined);
    await accountEvent(this.#d, account.kind, account.name, 'IssuanceFailed', {
      warning: `no certificate delivered (${reason}): ${failed.lastError ?? ''}; next attempt ${failed.nextAttempt?.toISOString() ?? '?'}`,
    });
  }
}

function leftAloneMessage(left: HomeError[]): string {
  return left
    .map((e) => e.message)
    .join('; ')
    .slice(0, 500);
}

/** One error for the sync's report; the first file's reason is its reason. */
function leftAloneError(left: HomeError[]): HomeError {
  return new HomeError(leftAloneMessage(left), left[0]!.reason, {
    cause: left.length === 1 ? left[0] : new AggregateError(left),
  });
}

/** The group a new certificate carries: always the new form (decide draws the id before issuing). */
function groupToIssue(instance: string, state: AccountState): string {
  if (!state.epochId)
    throw new IssueError('no-epoch-id', `${state.kind} ${state.name} has no epoch id to issue with`);
  return currentGroup(instance, state);
}

/** A bounded label for metrics: the kind of failure, never its text. */
export function failureReason(err: unknown): string {
  if (isNotLeader(err)) return 'not-leader';
  if (err instanceof HomeError) return `home-${err.reason}`;
  if (err instanceof CsrFailedError) return 'csr-denied';
  if (err instanceof CsrWaitError) return err.reason;
  if (err instanceof IssueError) return `certificate-${err.reason}`;
  const status = statusOf(err);
  if (status !== undefined) return `api-${status}`;
  if (isUnreachable(err)) return 'api-unreachable';
  return 'other';
}
