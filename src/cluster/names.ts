// Deterministic names and labels: everything kubeusers creates can be found again by label or name.
import type { AccountKind } from '../directory/account.ts';

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
export const adminBindingName = (name: string, clusterRole: string): string =>
  `kubeusers-admin-${name}-${clusterRole}`;

/** Every certificate of an account names its epoch; only the current epoch's group is bound. */
export const epochGroup = (kind: AccountKind, name: string, epoch: number): string =>
  `kubeusers:${kind}:${name}:${epoch}`;
export const kindGroup = (kind: AccountKind): string => `kubeusers:${kind}s`;
