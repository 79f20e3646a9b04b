// Pure: the objects an account should have in the cluster, derived in this one place from the account
// (or, with the directory unreachable, the account its state records: accountFromState) and the
// state's epoch. decide plans with them; granting and revoking write the bindings among them.
import type { Account } from './account.ts';
import {
  adminObjects,
  resourcesFor,
  subjectsOf,
  toolNamespaceObject,
  toolObjects,
  type Desired,
  type ManifestSettings,
  type Resources,
  type Subject,
} from './manifests.ts';
import { boundGroups, type AccountState } from './state.ts';

export interface DesiredSettings extends ManifestSettings {
  resources: Resources;
  overrides: Record<
    string,
    { version: number; quota?: Record<string, string>; limitRange?: Resources['limitRange'] }
  >;
}

/** Whom the account's bindings name: the epoch groups the state binds, and an adopted legacy user. */
export function subjectsFor(instance: string, state: AccountState): Subject[] {
  return subjectsOf(boundGroups(instance, state), state.legacyUser);
}

export function desiredObjects(account: Account, state: AccountState, s: DesiredSettings): Desired[] {
  const subjects = subjectsFor(s.instance, state);
  if (account.kind === 'admin') return adminObjects(account, s, subjects);
  const resources = resourcesFor(account.name, s.resources, s.overrides);
  return [toolNamespaceObject(account, s), ...toolObjects(account, s, resources, subjects)];
}

const GRANTS = new Set(['RoleBinding', 'ClusterRoleBinding']);

/** The objects among the desired ones that grant the account its rights: its bindings. */
export function grantObjects(account: Account, state: AccountState, s: DesiredSettings): Desired[] {
  return desiredObjects(account, state, s).filter((o) => GRANTS.has(o.kind ?? ''));
}
