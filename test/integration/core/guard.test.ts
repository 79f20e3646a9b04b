import { afterAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { generatedTools } from '../../env/ldif.ts';
import { adminKubeConfig } from '../../env/index.ts';
import { exitCodeOf } from '../../../src/cli/commands.ts';
import { EXIT } from '../../../src/cli/exit-codes.ts';
import { scenario, type Scenario } from '../support.ts';

const tools = generatedTools(60, { prefix: 't', firstUid: 56_000 });
const stateCount = async () =>
  (
    await adminKubeConfig()
      .makeApiClient(k8s.CoreV1Api)
      .listNamespacedConfigMap({ namespace: 'kubeusers-gd', labelSelector: 'kubeusers.io/role=state' })
  ).items.length;
const opened: Scenario[] = [];
afterAll(async () => {
  for (const s of opened) await s.ldap?.stop();
});

describe('the removal guard', () => {
  it('removes nothing when LDAP stops in the middle of a read', async () => {
    const s = await scenario('gd', { ldap: { pageSize: 5 } } as never, { ownLdap: { tools } });
    opened.push(s);
    expect((await s.sync()).failures).toEqual([]);
    expect(await stateCount()).toBe(60);
    const running = s.sync();
    s.ldap!.proc.child.kill('SIGKILL');
    const result = await running;
    expect(result.directoryError).toMatch(/LDAP|ldap|server/);
    expect(result.done.filter((d) => d.includes('delete') || d.includes('forget'))).toEqual([]);
    expect(exitCodeOf(result)).toBe(EXIT.directoryUnreachable);
    // Nothing answered at all, either: still nothing removed.
    const again = await s.sync();
    expect(again.directoryError).toBeDefined();
    expect(again.done.filter((d) => d.includes('delete') || d.includes('forget'))).toEqual([]);
    expect(await stateCount()).toBe(60);
  });

  it('holds back a removal of 50 of 60 tools, names the count, and carries it out once confirmed', async () => {
    // The same installation, now reading a directory that lost 50 tools.
    const s = await scenario('gd', {}, { ownLdap: { tools: tools.slice(0, 10) } });
    opened.push(s);
    const held = await s.sync();
    expect(held.guard).toMatchObject({ removals: 50, limit: 10 });
    expect(held.guard?.names).toHaveLength(50);
    expect(exitCodeOf(held)).toBe(EXIT.guardHeld);
    expect(held.done).toEqual([]);
    expect(await stateCount()).toBe(60);
    expect(
      await s.app.metrics.registry.getSingleMetricAsString('kubeusers_removal_guard_held_accounts'),
    ).toMatch(/ 50$/m);
    expect(
      await s.app.metrics.registry.getSingleMetricAsString('kubeusers_removal_guard_trips_total'),
    ).toMatch(/ 1$/m);
    const events = await adminKubeConfig()
      .makeApiClient(k8s.CoreV1Api)
      .listNamespacedEvent({ namespace: 'kubeusers-gd' });
    expect(events.items.map((e) => [e.reason, e.type, e.message])).toContainEqual([
      'RemovalGuard',
      'Warning',
      expect.stringContaining('50 account(s) would be removed') as unknown,
    ]);
    expect(s.logs.some((l) => l.includes('"action":"guard"') && l.includes('"removals":50'))).toBe(true);
    const confirmed = await s.sync({ confirmRemovals: true });
    expect(confirmed.guard).toBeUndefined();
    expect(confirmed.failures).toEqual([]);
    expect(await stateCount()).toBe(10);
  });
});
