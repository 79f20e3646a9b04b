// Rewrites the objects that grant an account its rights, with the subjects given.
import type { Account } from '../directory/account.ts';
import type { Clients } from '../cluster/client.ts';
import { adminObjects, resourcesFor, toolObjects, type Subject } from '../cluster/manifests.ts';
import { isNotFound } from '../cluster/errors.ts';
import { INSTANCE_LABEL, legacyAdminBindingName } from '../cluster/names.ts';
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

/** An admin's bindings under the previous release's names, if this installation wrote them. */
export async function dropLegacyAdminBindings(
  clients: Clients,
  name: string,
  s: DecideSettings,
): Promise<void> {
  for (const role of s.adminClusterRoles) {
    const ref = { kind: 'ClusterRoleBinding', name: legacyAdminBindingName(name, role) };
    const found = await clients.rbac.readClusterRoleBinding({ name: ref.name }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (found?.metadata?.labels?.[INSTANCE_LABEL] === s.instance) await deleteObject(clients, ref);
  }
}
