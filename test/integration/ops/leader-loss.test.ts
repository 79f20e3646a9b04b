// Losing the lease in the middle of a sync is one event, said once: its own metric reason and one log
// line, not a failure line per account with reason `other`.
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { makeLogger } from '../../../src/log.ts';
import { buildApp, type App } from '../../../src/main.ts';
import { runSync } from '../../../src/reconcile/sync.ts';
import { scenario, type Scenario } from '../support.ts';

let s: Scenario;
beforeAll(async () => {
  s = await scenario('ll', { sync: { concurrency: 1 } });
  for (let i = 0; i < 5; i++) await s.dir.addTool({ name: `l${i}`, uidNumber: 64_600 + i });
});

describe('the lease lost during a sync', () => {
  it('is counted as not-leader and logged once', async () => {
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    // The lease goes at a moment chosen from the run's progress: right after the first home is written.
    const built: { app?: App } = {};
    const point = (name: string): void => {
      if (name === 'files-written' && built.app) built.app.fence.canWrite = () => false;
    };
    const app = (built.app = await buildApp(s.settings, { log: makeLogger('debug', sink), point }));
    const result = await runSync(app.sync, { mode: 'sync' });

    expect(result.failures.length).toBeGreaterThan(0);
    const perAccount = logs.filter((l) => l.includes('"action":"reconcile"'));
    expect(perAccount).toEqual([]);
    expect(logs.filter((l) => l.includes('"action":"leader-lost"'))).toHaveLength(1);
    const metrics = await app.metrics.registry.getSingleMetricAsString('kubeusers_failures_total');
    expect(metrics).toMatch(/kubeusers_failures_total\{reason="not-leader"\} [1-9]/);
    expect(metrics).not.toContain('reason="other"');
  });
});
