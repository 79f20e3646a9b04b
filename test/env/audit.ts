// The apiserver's audit log as tests read it: one entry per completed request (stage
// ResponseComplete), optionally only those a kubeusers instance made (its user agent starts with
// `kubeusers/<instance namespace>/`).
import { readFileSync, statSync } from 'node:fs';
import { testEnv } from './index.ts';

export interface Audited {
  /** The client's user agent, e.g. `kubeusers/<namespace>/<identity>`. */
  agent: string;
  verb: string;
  uri: string;
  resource?: string;
  name?: string;
}

interface AuditLine {
  stage: string;
  userAgent?: string;
  verb: string;
  requestURI: string;
  objectRef?: { resource?: string; name?: string };
}

/** Where the log ends now: pass it to `auditedSince` after the action under test. */
export const auditOffset = (): number => statSync(testEnv().kube.auditLog).size;

/** Requests completed since `offset`; with `instanceNamespace`, only that kubeusers instance's. */
export function auditedSince(offset: number, instanceNamespace?: string): Audited[] {
  const prefix = instanceNamespace === undefined ? '' : `kubeusers/${instanceNamespace}/`;
  return readFileSync(testEnv().kube.auditLog)
    .subarray(offset)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditLine)
    .filter((e) => e.stage === 'ResponseComplete' && (e.userAgent ?? '').startsWith(prefix))
    .map((e) => ({
      agent: e.userAgent ?? '',
      verb: e.verb,
      uri: e.requestURI,
      ...(e.objectRef?.resource ? { resource: e.objectRef.resource } : {}),
      ...(e.objectRef?.name ? { name: e.objectRef.name } : {}),
    }));
}

/** CSRs created, among audited requests. */
export const csrCreates = (requests: Audited[]): Audited[] =>
  requests.filter((r) => r.verb === 'create' && r.resource === 'certificatesigningrequests');
