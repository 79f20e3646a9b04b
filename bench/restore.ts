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

/** The metric the watch-fed cache counts foreign changes with (issue 15): its restorations are watch-driven. */
export const RESTORED_METRIC = 'kubeusers_foreign_changes_total';
const TAMPER = { spec: { hard: { 'count/secrets': '1' } } };
const READS = new Set(['get', 'list', 'watch']);

export interface RestoreOptions {
  n: number;
  env: EnvInfo;
  opsPort: number;
  repeats: number;
  toolName: (i: number) => string;
}

const writesTo = (events: AuditEvent[], name: string): AuditEvent[] =>
  events.filter((e) => e.resource === 'resourcequotas' && e.name === name && !READS.has(e.verb));

async function restoredSpec(o: RestoreOptions, ns: string): Promise<boolean> {
  const args = ['get', 'resourcequota', 'kubeusers', '-n', ns, '-o', 'json'];
  const live = await kubectl(o.env.kube.adminKubeconfig, args, o.env);
  if (live.code !== 0) throw new Error(`reading ${ns}'s quota failed: ${live.stderr}`);
  return !('count/secrets' in (JSON.parse(live.stdout) as { spec: { hard: object } }).spec.hard);
}

/**
 * One tamper and its restoration: from the tamper's completion to the completion of the last write
 * kubeusers made before the restored content was read back (a restoration may take two writes).
 */
async function restoredOnce(o: RestoreOptions, tool: string): Promise<number> {
  const ns = `tool-${tool}`;
  const object = `${ns}/kubeusers`;
  const audit = o.env.kube.auditLog;
  const offset = auditOffset(audit);
  const patch = ['patch', 'resourcequota', 'kubeusers', '-n', ns, '--type=merge'];
  const tampered = await kubectl(o.env.kube.adminKubeconfig, [...patch, '-p', JSON.stringify(TAMPER)], o.env);
  if (tampered.code !== 0) throw new Error(`tampering with ${ns} failed: ${tampered.stderr}`);
  const tamper = writesTo(
    auditEvents(audit, offset).filter((e) => e.agent.startsWith('kubectl')),
    object,
  )[0];
  if (!tamper) throw new Error(`the tamper of ${ns} is not in the audit log`);
  const ours = (): AuditEvent[] => writesTo(audited(audit, offset, 'kubeusers/'), object);
  const ceiling = { timeoutMs: 120_000 };
  await waitUntil(`kubeusers writes ${ns}'s quota`, () => Promise.resolve(ours().length > 0), ceiling);
  await waitUntil(`${ns}'s quota restored`, () => restoredSpec(o, ns), ceiling);
  return (ours().at(-1)!.done - tamper.done) / 1000;
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
