// Changes kubeusers did not make, told apart from its own by what it last wrote (ADR 12, ADR 21).
import type { ObservedObject } from '../model/observed.ts';

/** What kubeusers last did to an object: the digest of the content it applied, or a deletion. */
export type Expected = { digest: string } | { deleted: true };

export interface ObjectChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  before?: ObservedObject;
  after?: ObservedObject;
}

/**
 * Whether a change of an object kubeusers owns was made by someone else. Its own writes are known
 * before they are made (`expected`), so a watch event that arrives before the write's answer is not
 * taken for another's. `namespaceGoing`: the object's namespace is being deleted, and its objects
 * go with it.
 */
export function isForeign(c: ObjectChange, expected: Expected | undefined, namespaceGoing: boolean): boolean {
  if (namespaceGoing) return false;
  const deleting = expected !== undefined && 'deleted' in expected;
  if (c.type === 'DELETED') return !deleting;
  const after = c.after;
  if (!after) return false;
  if (after.terminating) return !deleting && c.before?.terminating !== true;
  return expected === undefined || deleting || after.digest !== expected.digest;
}
