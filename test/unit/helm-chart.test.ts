import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { generateChart } from '../../scripts/helm-chart.ts';

const repo = join(import.meta.dirname, '..', '..');
const chart = join(repo, 'deploy', 'helm', 'kubeusers');

describe('deploy/helm/kubeusers', () => {
  // helm itself renders the chart against the base in test/integration/ops/helm.test.ts.
  it.each(Object.entries(generateChart(repo)))(
    '%s is what deploy/base generates (regenerate with npm run gen:helm)',
    (path, text) => {
      expect(readFileSync(join(chart, path), 'utf8')).toBe(text);
    },
  );
});
