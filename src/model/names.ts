// Deterministic names and labels: everything kubeusers creates can be found again by label or name.
import type { AccountKind } from './account.ts';

export const FIELD_MANAGER = 'kubeusers';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'kubeusers';
export const KIND_LABEL = 'kubeusers.io/kind';
export const ACCOUNT_LABEL = 'kubeusers.io/account';
export const ROLE_LABEL = 'kubeusers.io/role';
/** One kubeusers installation: its own namespace's name. Two may share a cluster (staging and production). */
export const INSTANCE_LABEL = 'kubeusers.io/instance';
export const HASH_ANNOTATION = 'kubeusers.io/spec-hash';
export const RESOURCES_VERSION_ANNOTATION = 'kubeusers.io/resources-version';
export const managedSelector = (instance: string): string =>
  `${MANAGED_BY_LABEL}=${MANAGED_BY},${INSTANCE_LABEL}=${instance}`;

export const ROLE_BINDING = 'kubeusers-tool';
export const QUOTA = 'kubeusers';
export const LIMIT_RANGE = 'kubeusers';

export function labels(
  instance: string,
  kind: AccountKind,
  name: string,
  role: string,
): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [INSTANCE_LABEL]: instance,
    [KIND_LABEL]: kind,
    [ACCOUNT_LABEL]: name,
    [ROLE_LABEL]: role,
  };
}

export const toolNamespace = (prefix: string, tool: string): string => `${prefix}${tool}`;
export const stateName = (kind: AccountKind, name: string): string => `state-${kind}-${name}`;
export const csrName = (kind: AccountKind, name: string): string => `kubeusers-${kind}-${name}`;
/** Names the installation: two installations on one cluster (staging and production) never share one. */
export const adminBindingName = (instance: string, name: string, clusterRole: string): string =>
  `kubeusers-${instance}-admin-${name}-${clusterRole}`;
/** The name the previous release gave an admin's binding; deleted when found. */
export const legacyAdminBindingName = (name: string, clusterRole: string): string =>
  `kubeusers-admin-${name}-${clusterRole}`;

/**
 * Every certificate of an account carries a group naming the installation and the account's epoch
 * id (`<epoch>-<random>`, drawn at every epoch transition and never reused); only the groups of the
 * current epoch are bound, so a certificate from a revoked epoch, from an account's earlier life
 * (removed and re-added) or from before kubeusers' state was lost is never bound again.
 */
export const epochGroup = (instance: string, kind: AccountKind, name: string, epochId: string): string =>
  `kubeusers:${instance}:${kind}:${name}:${epochId}`;
export const kindGroup = (instance: string, kind: AccountKind): string => `kubeusers:${instance}:${kind}s`;

/** The previous release's groups, still carried by its certificates until their normal renewal. */
export const legacyEpochGroup = (kind: AccountKind, name: string, epoch: number): string =>
  `kubeusers:${kind}:${name}:${epoch}`;
export const legacyKindGroup = (kind: AccountKind): string => `kubeusers:${kind}s`;

/** `<epoch>-<random>`: the random part makes the id unique across an account's lives and states. */
export const epochId = (epoch: number, random: string): string => `${epoch}-${random}`;

export type ParsedEpochGroup =
  | { form: 'current'; instance: string; kind: AccountKind; name: string; epochId: string }
  | { form: 'legacy'; kind: AccountKind; name: string; epoch: number };

const CURRENT_GROUP = /^kubeusers:([a-z0-9-]+):(tool|admin):([a-z0-9][a-z0-9.-]*):(\d+-[a-z0-9]+)$/;
const LEGACY_GROUP = /^kubeusers:(tool|admin):([a-z0-9][a-z0-9.-]*):(\d+)$/;

/** An epoch group read from a certificate, in either form; anything else is not one. */
export function parseEpochGroup(group: string): ParsedEpochGroup | undefined {
  const c = CURRENT_GROUP.exec(group);
  if (c) return { form: 'current', instance: c[1]!, kind: c[2] as AccountKind, name: c[3]!, epochId: c[4]! };
  const l = LEGACY_GROUP.exec(group);
  if (l) return { form: 'legacy', kind: l[1] as AccountKind, name: l[2]!, epoch: Number(l[3]) };
  return undefined;
}
