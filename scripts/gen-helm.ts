// Writes the Helm chart's templates from the kustomize base, so that deploy/base stays the one
// source of truth: each template is its base file with the few values an operator changes made
// template expressions (the release's namespace, the image, replicas, resources, the homes'
// volumes, the daemon's configuration). It also writes those values' defaults, taken from the base,
// into values.yaml and Chart.yaml. test/unit/helm-chart.test.ts checks the chart is what this
// writes; test/integration/ops/helm.test.ts checks helm renders the base's objects.
// Run: npm run gen:helm
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateChart } from './helm-chart.ts';

const repo = join(fileURLToPath(import.meta.url), '..', '..');
const chart = join(repo, 'deploy', 'helm', 'kubeusers');
const files = generateChart(repo);
for (const f of readdirSync(join(chart, 'templates'))) {
  if (f.endsWith('.yaml') && !(`templates/${f}` in files)) rmSync(join(chart, 'templates', f));
}
for (const [path, text] of Object.entries(files)) {
  const file = join(chart, path);
  if (readFileSync(file, { encoding: 'utf8', flag: 'a+' }) !== text) writeFileSync(file, text);
}
