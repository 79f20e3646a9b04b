// One certificate for one account: fresh key, CSR with an allow-listed subject, approval, the
// signer's certificate, and a check that what came back is what was asked for.
import type { Account } from '../directory/account.ts';
import { buildCsrPem } from '../pki/csr.ts';
import { certInfo, certMatchesKey, type CertInfo } from '../pki/cert.ts';
import { generateKey, privateKeyPem, type KeyType } from '../pki/keys.ts';
import type { Clients } from './client.ts';
import { approveCsr, deleteCsr, submitCsr, waitForCertificate } from './csr.ts';
import { csrName, kindGroup, labels } from './names.ts';

export interface IssueSettings {
  instance: string;
  keyType: KeyType;
  lifetimeSeconds: number;
  signTimeoutMs: number;
  extraGroups: string[];
}

export interface Issued {
  certPem: string;
  keyPem: string;
  info: CertInfo;
  /** CSR created → certificate received. */
  signSeconds: number;
}

export class IssueError extends Error {}

/** The certificate's groups (`group`: the account's current epoch group). Nothing else goes into a CSR. */
export function certificateGroups(
  account: Account,
  instance: string,
  group: string,
  extraGroups: string[],
): string[] {
  const groups = [kindGroup(instance, account.kind), group, ...extraGroups];
  const refused = groups.filter((g) => g.startsWith('system:'));
  if (refused.length > 0) throw new IssueError(`refusing to issue privileged groups: ${refused.join(', ')}`);
  return groups;
}

export async function issueCertificate(
  clients: Clients,
  account: Account,
  group: string,
  s: IssueSettings,
  hooks: { now: () => Date; point?: (name: string) => void },
): Promise<Issued> {
  const now = hooks.now;
  const groups = certificateGroups(account, s.instance, group, s.extraGroups);
  const keys = await generateKey(s.keyType);
  const csrPem = await buildCsrPem({ commonName: account.uid, groups }, keys, s.keyType);
  const name = csrName(account.kind, account.name);
  const started = now();
  const created = await submitCsr(clients.certificates, {
    name,
    csrPem,
    expirationSeconds: s.lifetimeSeconds,
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
  const certPem = await waitForCertificate(clients.kc, approved, s.signTimeoutMs);
  const keyPem = await privateKeyPem(keys.privateKey);
  const info = await certInfo(certPem);
  if (!(await certMatchesKey(certPem, keyPem)))
    throw new IssueError(`certificate for ${account.kind} ${account.name} does not match its key`);
  if (info.commonName !== account.uid || !groups.every((g) => info.groups.includes(g))) {
    throw new IssueError(
      `certificate for ${account.kind} ${account.name} has subject ${info.commonName} / ${info.groups.join(',')}`,
    );
  }
  return { certPem, keyPem, info, signSeconds: (now().getTime() - started.getTime()) / 1000 };
}

export async function cleanupCsr(clients: Clients, account: Account): Promise<void> {
  await deleteCsr(clients.certificates, csrName(account.kind, account.name));
}
