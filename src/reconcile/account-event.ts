// The Events that tell a tool (on its namespace) or an admin (on its state, in kubeusers' namespace)
// what happened to its credentials.
import type { AccountKind } from '../model/account.ts';
import { emitEvent, type EventDeps } from '../cluster/events.ts';
import { stateName, toolNamespace } from '../model/names.ts';
import type { ManifestSettings } from '../model/manifests.ts';

export interface AccountEventDeps extends EventDeps {
  ownNamespace: string;
  decide: Pick<ManifestSettings, 'namespacePrefix'>;
}

/** An Event on the tool's namespace, or on kubeusers' own namespace for an admin. */
export async function accountEvent(
  d: AccountEventDeps,
  kind: AccountKind,
  name: string,
  reason: string,
  /** A Warning is given as `{ warning: note }`. */
  note: string | { warning: string },
): Promise<void> {
  const type = typeof note === 'string' ? 'Normal' : 'Warning';
  const text = typeof note === 'string' ? note : note.warning;
  const namespace = kind === 'tool' ? toolNamespace(d.decide.namespacePrefix, name) : d.ownNamespace;
  const regarding =
    kind === 'tool'
      ? { apiVersion: 'v1', kind: 'Namespace', name: namespace, namespace }
      : { apiVersion: 'v1', kind: 'ConfigMap', name: stateName(kind, name), namespace };
  await emitEvent(
    d,
    { namespace, regarding, reason, action: reason, note: text, type },
    { account: name, kind },
  );
}
