// Putting back an object of kubeusers' that someone else changed, and saying so.
import type { AccountKind } from '../model/account.ts';
import type { Clock } from '../clock.ts';
import type { Clients } from '../cluster/client.ts';
import { emitEvent, type EventSink } from '../cluster/events.ts';
import type { Desired } from '../model/manifests.ts';
import { applyObject, deleteObject, mergePatchObject, readObject, type Ref } from '../cluster/objects.ts';
import type { Logger } from '../log.ts';
import type { ActEvents } from './act-events.ts';
import { changedParts, revertPlan } from '../model/content.ts';

export interface RevertDeps {
  clients: Clients;
  clock: Clock;
  log: Logger;
  ownNamespace: string;
  events?: ActEvents;
  recorder?: EventSink;
}

/** Why an object is written back: someone changed it, or an apply met a field that cannot change. */
export type RevertCause = 'tampered' | 'immutable';

/**
 * Writes an object back to what kubeusers wants. What someone added under kubeusers' labels,
 * annotations and maps is removed first (server-side apply keeps fields another manager entry owns,
 * and `kubeusers` with operation Update is another entry); a changed immutable field (a binding's
 * roleRef, a quota's scopes) means delete and create; then the usual apply with force. One read more
 * than an apply, only for an object found changed.
 */
export async function putBack(
  d: RevertDeps,
  who: { kind: AccountKind; name: string },
  object: Desired,
  cause: RevertCause,
): Promise<void> {
  const { namespace, name } = object.metadata;
  const ref: Ref = { kind: object.kind!, name, ...(namespace ? { namespace } : {}) };
  const live = await readObject(d.clients, ref);
  const changed = live ? changedParts(live, object) : [];
  const plan = live ? revertPlan(live, object) : { replace: false };
  if (plan.replace) await deleteObject(d.clients, ref);
  else if (plan.removals) await mergePatchObject(d.clients, ref, plan.removals);
  await applyObject(d.clients, object);
  const what = `${ref.kind} ${namespace ? `${namespace}/` : ''}${name}`;
  d.log.warn(
    {
      account: who.name,
      kind: who.kind,
      action: 'revert',
      object: what,
      changed,
      recreated: plan.replace,
      cause,
    },
    cause === 'tampered'
      ? 'put back an object someone else changed'
      : 'recreated an object to change an immutable field',
  );
  if (cause === 'tampered' && changed.length > 0)
    await reportTampering(d, who, object, { ref, changed, recreated: plan.replace });
}

/** An Event where the object's owner looks (its namespace, or kubeusers' own), and the counter. */
async function reportTampering(
  d: RevertDeps,
  who: { kind: AccountKind; name: string },
  object: Desired,
  found: { ref: Ref; changed: string[]; recreated: boolean },
): Promise<void> {
  const { ref, changed, recreated } = found;
  d.events?.reverted?.(ref.kind);
  const namespace = ref.namespace ?? (ref.kind === 'Namespace' ? ref.name : d.ownNamespace);
  const what = `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
  const how = recreated ? ' (deleted and created again: the changed field cannot change in place)' : '';
  await emitEvent(
    d,
    {
      namespace,
      // A core/v1 Event's involvedObject must name the Event's namespace, even for a cluster-wide object.
      regarding: { apiVersion: object.apiVersion ?? 'v1', ...ref, namespace },
      reason: 'TamperingReverted',
      action: 'Revert',
      type: 'Warning',
      note: `${what}: ${changed.join(', ')} differed from what kubeusers wrote; put back${how}`,
    },
    { account: who.name, kind: who.kind },
  );
}
