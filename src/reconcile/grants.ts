// Rewrites the objects that grant an account its rights, with the subjects given.
import type { Account } from '../directory/account.ts';
import type { Clients } from '../cluster/client.ts';
import { adminObjects, resourcesFor, toolObjects, type Subject } from '../cluster/manifests.ts';
import { ACCOUNT_LABEL, KIND_LABEL, legacyAdminBindingName, managedSelector } from '../cluster/names.ts';
import { applyObject, deleteObject } from '../cluster/objects.ts';
import type { DecideSettings } from './decide.ts';

export async function applyGrants(
  clients: Clients,
  account: Account,
  subjects: Subject[],
  s: DecideSettings,
): Promise<void> {
  const objects =
    account.kind === 'admin'
      ? adminObjects(account, s, subjects)
      : toolObjects(account, s, resourcesFor(account.name, s.resources, s.overrides), subjects).filter(
          (o) => o.kind === 'RoleBinding',
        );
  for (const o of objects) await applyObject(clients, o);
}

/** An admin's bindings under the previous release's names, found by this installation's labels. */
export async function dropLegacyAdminBindings(
  clients: Clients,
  name: string,
  s: DecideSettings,
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
