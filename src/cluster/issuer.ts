// One certificate for one account: fresh key, CSR with an allow-listed subject, approval, the
// signer's certificate, and a check that what came back is what was asked for.
import type { Account } from '../model/account.ts';
import { isSafeUserName } from '../model/mapping.ts';
import { buildCsrPem } from '../pki/csr.ts';
import { certInfo, certMatchesKey, type CertInfo } from '../pki/cert.ts';
import { generateKey, privateKeyPem, type KeyType } from '../pki/keys.ts';
import { DEFAULT_CLOCK_TOLERANCE_MS, issuedProblem, type IssuedProblemReason } from '../model/validity.ts';
import type { Clients } from './client.ts';
import { approveCsr, deleteCsr, expirationSecondsFor, submitCsr, waitForCertificate } from './csr.ts';
import { csrName, kindGroup, labels } from '../model/names.ts';

export interface IssueSettings {
  instance: string;
  keyType: KeyType;
  lifetimeSeconds: number;
  signTimeoutMs: number;
  extraGroups: string[];
  /** How far the signer's clock may run ahead of ours before its certificate counts as not valid yet. */
  clockSkewToleranceMs?: number;
}

export interface Issued {
  certPem: string;
  keyPem: string;
  info: CertInfo;
  /** CSR created → certificate received. */
  signSeconds: number;
}

export type IssueProblem =
  IssuedProblemReason | 'key-mismatch' | 'privileged-group' | 'invalid-user-name' | 'no-epoch-id';

/** Nothing was issued, or what the signer returned was refused: the key is never written. */
export class IssueError extends Error {
  /** Stable, for metrics and state. */
  readonly reason: IssueProblem;
  /** For `not-yet-valid`: how far the signer's certificate starts ahead of our clock. */
  readonly skewSeconds: number | undefined;

  constructor(
    reason: IssueProblem,
    message: string,
    options: { cause?: unknown; skewSeconds?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IssueError';
    this.reason = reason;
    this.skewSeconds = options.skewSeconds;
  }
}

/** The certificate's groups (`group`: the account's current epoch group). Nothing else goes into a CSR. */
export function certificateGroups(
  account: Account,
  instance: string,
  group: string,
  extraGroups: string[],
): string[] {
  const groups = [kindGroup(instance, account.kind), group, ...extraGroups];
  const refused = groups.filter((g) => g.startsWith('system:'));
  if (refused.length > 0)
    throw new IssueError('privileged-group', `refusing to issue privileged groups: ${refused.join(', ')}`);
  return groups;
}

/** The user name a certificate is issued to; the directory mapping already checked its exact form. */
export function certificateUser(account: Account): string {
  if (!isSafeUserName(account.uid))
    throw new IssueError(
      'invalid-user-name',
      `refusing to issue to user "${account.uid}" for ${account.kind} ${account.name}`,
    );
  return account.uid;
}

export async function issueCertificate(
  clients: Clients,
  account: Account,
  group: string,
  s: IssueSettings,
  hooks: { now: () => Date; point?: (name: string) => void },
): Promise<Issued> {
  const now = hooks.now;
  const commonName = certificateUser(account);
  const groups = certificateGroups(account, s.instance, group, s.extraGroups);
  const keys = await generateKey(s.keyType);
  const csrPem = await buildCsrPem({ commonName, groups }, keys, s.keyType);
  const name = csrName(account.kind, account.name);
  const started = now();
  const expirationSeconds = expirationSecondsFor(s.lifetimeSeconds);
  const created = await submitCsr(clients.certificates, {
    name,
    csrPem,
    expirationSeconds,
    labels: labels(s.instance, account.kind, account.name, 'csr'),
  });
  hooks.point?.('csr-created');
  const approved = await approveCsr(
    clients.certificates,
    created,
    `kubeusers issues ${account.kind} ${account.name}`,
    now(),
  );
  hooks.point?.('csr-approved');
  const certPem = await waitForCertificate(clients, approved, s.signTimeoutMs);
  const keyPem = await privateKeyPem(keys.privateKey);
  const info = await certInfo(certPem);
  if (!(await certMatchesKey(certPem, keyPem)))
    throw new IssueError(
      'key-mismatch',
      `certificate for ${account.kind} ${account.name} does not match its key`,
    );
  const problem = issuedProblem(
    info,
    { commonName, groups, expirationSeconds, at: started },
    now(),
    s.clockSkewToleranceMs ?? DEFAULT_CLOCK_TOLERANCE_MS,
  );
  if (problem) {
    throw new IssueError(
      problem.reason,
      `refused the certificate for ${account.kind} ${account.name}: ${problem.message}`,
      problem.skewSeconds === undefined ? {} : { skewSeconds: problem.skewSeconds },
    );
  }
  return { certPem, keyPem, info, signSeconds: (now().getTime() - started.getTime()) / 1000 };
}

export async function cleanupCsr(clients: Clients, account: Account): Promise<void> {
  await deleteCsr(clients.certificates, csrName(account.kind, account.name));
}
