// Someone else changes an object kubeusers owns (a tool's ResourceQuota, merge-patched by the
// cluster admin); how long until kubeusers writes it back. Both moments come from the apiserver's
// audit log (the tamper's completion, kubeusers' write's completion), so the bench's own polling
// adds nothing to the figure; the restored content is then checked.
import type { EnvInfo } from '../test/env/environment.ts';
import { kubectl } from '../test/env/index.ts';
import { waitUntil } from '../test/env/proc.ts';
import { metricsText } from './daemon.ts';
import { audited, auditEvents, auditOffset, percentile, round, type AuditEvent } from './measure.ts';
import { skipped, type Scenario } from './scenario.ts';

/** The metric the watch-fed cache counts its restorations with (issue 15). */
export const RESTORED_METRIC = 'kubeusers_restored_total';
const TAMPER = { spec: { hard: { 'count/secrets': '1' } } };
const READS = new Set(['get', 'list', 'watch']);

export interface RestoreOptions {
  n: number;
  env: EnvInfo;
  opsPort: number;
  repeats: number;
  toolName: (i: number) => string;
}

const lastWrite = (events: AuditEvent[], name: string): AuditEvent | undefined =>
  events.find((e) => e.resource === 'resourcequotas' && e.name === name && !READS.has(e.verb));

async function restoredOnce(o: RestoreOptions, tool: string): Promise<number> {
  const ns = `tool-${tool}`;
  const audit = o.env.kube.auditLog;
  const admin = o.env.kube.adminKubeconfig;
  const offset = auditOffset(audit);
  const patch = ['patch', 'resourcequota', 'kubeusers', '-n', ns, '--type=merge'];
  const tampered = await kubectl(admin, [...patch, '-p', JSON.stringify(TAMPER)], o.env);
  if (tampered.code !== 0) throw new Error(`tampering with ${ns} failed: ${tampered.stderr}`);
  const tamper = lastWrite(
    auditEvents(audit, offset).filter((e) => e.agent.startsWith('kubectl')),
    `${ns}/kubeusers`,
  );
  if (!tamper) throw new Error(`the tamper of ${ns} is not in the audit log`);
  let restore: AuditEvent | undefined;
  await waitUntil(
    `${ns}'s quota restored`,
    () => {
      restore = lastWrite(audited(audit, offset, 'kubeusers/'), `${ns}/kubeusers`);
      return Promise.resolve(restore !== undefined);
    },
    { timeoutMs: 120_000 },
  );
  const live = await kubectl(admin, ['get', 'resourcequota', 'kubeusers', '-n', ns, '-o', 'json'], o.env);
  const hard = (JSON.parse(live.stdout) as { spec: { hard: Record<string, string> } }).spec.hard;
  if ('count/secrets' in hard) throw new Error(`${ns}'s quota was written but not restored`);
  return (restore!.done - tamper.done) / 1000;
}

export async function restoreLatency(o: RestoreOptions): Promise<Scenario> {
  if (!(await metricsText(o.opsPort)).includes(RESTORED_METRIC))
    return skipped(
      'restore',
      o.n,
      `no ${RESTORED_METRIC} metric: this build restores only at the next full sync (the watch-fed cache of issue 15 is not in it)`,
    );
  const seconds: number[] = [];
  for (let i = 0; i < o.repeats; i++) seconds.push(await restoredOnce(o, o.toolName(i % o.n)));
  return {
    name: 'restore',
    n: o.n,
    p50_s: round(percentile(seconds, 50), 3),
    p99_s: round(percentile(seconds, 99), 3),
  };
}
