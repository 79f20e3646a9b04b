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

/**
 * The whole lines written after `offset`. The apiserver writes a line in more than one write at
 * times: an offset taken meanwhile falls inside a line (begun before it: left out), and the last
 * line may be unfinished (left for the next read).
 */
export function auditLinesSince(file: string, offset: number): string[] {
  const buf = readFileSync(file);
  let start = offset;
  if (start > 0 && buf[start - 1] !== 0x0a) {
    const nl = buf.indexOf(0x0a, start);
    start = nl < 0 ? buf.length : nl + 1;
  }
  const lines = buf.subarray(start).toString('utf8').split('\n');
  lines.pop();
  return lines.filter(Boolean);
}

/** Requests completed since `offset`; with `instanceNamespace`, only that kubeusers instance's. */
export function auditedSince(offset: number, instanceNamespace?: string): Audited[] {
  const prefix = instanceNamespace === undefined ? '' : `kubeusers/${instanceNamespace}/`;
  return auditLinesSince(testEnv().kube.auditLog, offset)
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
