// Rewrites the objects that grant an account its rights, with the subjects given.
import type { Account } from '../directory/account.ts';
import type { Clients } from '../cluster/client.ts';
import { adminObjects, resourcesFor, toolObjects, type Subject } from '../cluster/manifests.ts';
import { applyObject } from '../cluster/objects.ts';
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
