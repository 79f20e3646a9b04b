// Which certificate found in a home is maintain-kubeusers' own, and so may be adopted by user name.
import type { Account } from './account.ts';

/** maintain-kubeusers' subject: CN = the bare tool name, O = toolforge, nothing else. */
export const LEGACY_GROUP = 'toolforge';

/**
 * A certificate may be adopted as maintain-kubeusers' only in that daemon's exact format. kubeusers'
 * own certificates (CN `<project>.<tool>`, `kubeusers:` groups) never qualify: binding their user
 * name would revive every certificate ever issued to the account, revoked ones included.
 */
export function isLegacyCertificate(
  cert: { commonName: string; groups: readonly string[] },
  account: Pick<Account, 'kind' | 'name'>,
): boolean {
  return (
    account.kind === 'tool' &&
    cert.commonName === account.name &&
    cert.groups.length === 1 &&
    cert.groups[0] === LEGACY_GROUP
  );
}
