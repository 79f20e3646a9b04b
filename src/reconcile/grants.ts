// Rewrites the objects that grant an account its rights (its bindings), outside a sync's plan:
// around an issuance, an adoption and a revocation.
import type { Account } from '../model/account.ts';
import type { Clients } from '../cluster/client.ts';
import type { AccountState } from '../model/state.ts';
import { ACCOUNT_LABEL, KIND_LABEL, legacyAdminBindingName, managedSelector } from '../model/names.ts';
import { applyObject, deleteObject } from '../cluster/objects.ts';
import { grantObjects, type DesiredSettings } from '../model/desired.ts';

/** Writes the bindings the state calls for (the same objects decide plans: desired.ts). */
export async function applyGrants(
  clients: Clients,
  account: Account,
  state: AccountState,
  s: DesiredSettings,
): Promise<void> {
  for (const o of grantObjects(account, state, s)) await applyObject(clients, o);
}

/** An admin's bindings under the previous release's names, found by this installation's labels. */
export async function dropLegacyAdminBindings(
  clients: Clients,
  name: string,
  s: DesiredSettings,
): Promise<void> {
  const legacy = new Set(s.adminClusterRoles.map((role) => legacyAdminBindingName(name, role)));
  const list = await clients.rbac.listClusterRoleBinding({
    labelSelector: `${managedSelector(s.instance)},${KIND_LABEL}=admin,${ACCOUNT_LABEL}=${name}`,
  });
  for (const crb of list.items) {
    const ref = { kind: 'ClusterRoleBinding', name: crb.metadata?.name ?? '' };
    if (legacy.has(ref.name)) await deleteObject(clients, ref);
  }
}
