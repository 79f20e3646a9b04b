import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments, stringify } from 'yaml';
import { Metrics } from '../../../src/metrics/metrics.ts';
import { systemClock } from '../../../src/clock.ts';
import { kubectl, testEnv } from '../../env/index.ts';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'kubeusers-manifests-'));

async function render(dir: string): Promise<string> {
  const r = await kubectl(testEnv().kube.adminKubeconfig, ['kustomize', join(repo, 'deploy', dir)]);
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe('deploy/', () => {
  it.each(['base', 'monitoring'])(
    '%s renders with kustomize and the real apiserver accepts every object (server-side dry run)',
    async (dir) => {
      const env = testEnv();
      await kubectl(env.kube.adminKubeconfig, [
        'apply',
        '--server-side',
        '-f',
        join(repo, 'test', 'env', 'fixtures', 'prometheusrule-crd.yaml'),
      ]);
      await kubectl(env.kube.adminKubeconfig, [
        'wait',
        '--for=condition=Established',
        'crd/prometheusrules.monitoring.coreos.com',
        '--timeout=30s',
      ]);
      // The namespace must exist for namespaced objects to dry-run.
      await kubectl(env.kube.adminKubeconfig, [
        'apply',
        '--server-side',
        '-f',
        join(repo, 'deploy', 'base', 'namespace.yaml'),
      ]);
      const file = join(scratch, `${dir}.yaml`);
      writeFileSync(file, await render(dir));
      const r = await kubectl(env.kube.adminKubeconfig, [
        'apply',
        '--server-side',
        '--force-conflicts',
        '--dry-run=server',
        '-f',
        file,
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const kinds = parseAllDocuments(readFileSync(file, 'utf8')).map(
        (d) => (d.toJS() as { kind: string }).kind,
      );
      expect(r.stdout.trim().split('\n')).toHaveLength(kinds.length);
    },
  );

  it('ships alerting rules that promtool accepts', async () => {
    const rule = parseAllDocuments(
      readFileSync(join(repo, 'deploy', 'monitoring', 'prometheusrule.yaml'), 'utf8'),
    )[0]!.toJS() as { spec: { groups: { rules: unknown[] }[] } };
    const file = join(scratch, 'rules.yaml');
    writeFileSync(file, stringify(rule.spec));
    const { stdout } = await run('promtool', ['check', 'rules', file]);
    // Every rule the file holds is one promtool accepted.
    const count = rule.spec.groups.reduce((n, g) => n + g.rules.length, 0);
    expect(count).toBeGreaterThanOrEqual(5);
    expect(stdout).toMatch(new RegExp(`SUCCESS: ${count} rules found`));
  });

  it('ships a dashboard whose every query names metrics kubeusers exports', async () => {
    const dash = JSON.parse(
      readFileSync(join(repo, 'deploy', 'monitoring', 'grafana-dashboard.json'), 'utf8'),
    ) as { panels: { title: string; targets: { expr: string }[] }[] };
    const families = new Set(
      (
        await new Metrics(
          { renewFraction: 2 / 3, jitterFraction: 0 },
          systemClock,
        ).registry.getMetricsAsJSON()
      ).map((m) => m.name),
    );
    const alerts = readFileSync(join(repo, 'deploy', 'monitoring', 'prometheusrule.yaml'), 'utf8');
    const used =
      [...dash.panels.flatMap((p) => p.targets.map((t) => t.expr)), alerts]
        .join('\n')
        .match(/kubeusers_[a-z_]+/g) ?? [];
    const unknown = [...new Set(used)].filter((m) => !families.has(m.replace(/_(bucket|sum|count)$/, '')));
    expect(dash.panels.length).toBeGreaterThan(5);
    expect(unknown).toEqual([]);
  });
});
