// Docs that can be checked are checked: the configuration reference against the schema, the
// examples against the parser, every alert's runbook link against operations.md, and the links.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { BEGIN, configReference, END } from '../../scripts/config-doc.ts';

const repo = join(import.meta.dirname, '..', '..');
const read = (p: string): string => readFileSync(join(repo, p), 'utf8');

describe('docs/configuration.md', () => {
  it('holds exactly the reference the schema generates (npm run gen:docs)', () => {
    const text = read('docs/configuration.md');
    const generated = text.slice(text.indexOf(BEGIN) + BEGIN.length, text.indexOf(END)).trim();
    expect(generated).toBe(configReference());
  });

  const blocks = [...read('docs/configuration.md').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  it.each(blocks.map((b, i) => [i, b]))('example %i is a valid configuration', (_, block) => {
    expect(() => parseConfig('example', parse(block as string))).not.toThrow();
  });

  it('documents config/kubeusers.example.yaml, which is valid too', () => {
    expect(() =>
      parseConfig('config/kubeusers.example.yaml', parse(read('config/kubeusers.example.yaml'))),
    ).not.toThrow();
    expect(blocks.length).toBe(2);
  });
});

describe('alert runbooks', () => {
  const rule = parseAllDocuments(read('deploy/monitoring/prometheusrule.yaml'))[0]!.toJS() as {
    spec: { groups: { rules: { alert: string; annotations: { runbook_url: string } }[] }[] };
  };
  const alerts = rule.spec.groups.flatMap((g) => g.rules);
  const headings = [...read('docs/operations.md').matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
    m[1]!
      .toLowerCase()
      .replace(/[^a-z0-9 -]/g, '')
      .replace(/ /g, '-'),
  );
  it.each(alerts.map((a) => [a.alert, a.annotations.runbook_url]))(
    '%s links to a runbook section that exists',
    (alert, url) => {
      const anchor = url.split('#')[1];
      expect(url).toMatch(/\/docs\/operations\.md#/);
      expect(anchor).toBe(alert.toLowerCase());
      expect(headings).toContain(anchor);
    },
  );
});

describe('links', () => {
  const docs = ['install.md', 'configuration.md', 'migration.md', 'operations.md', 'api.md'];
  it.each(docs)('the README links docs/%s', (doc) => {
    expect(read('README.md')).toContain(`docs/${doc}`);
  });

  it('the docs and the README link SECURITY.md', () => {
    expect(read('README.md')).toContain('SECURITY.md');
    expect(read('docs/install.md')).toContain('../SECURITY.md');
    expect(read('docs/operations.md')).toContain('../SECURITY.md');
  });

  const markdown = [
    'README.md',
    'SECURITY.md',
    'bench/results/README.md',
    ...readdirSync(join(repo, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
    ...readdirSync(join(repo, 'docs', 'adr')).map((f) => `docs/adr/${f}`),
  ];
  it.each(markdown)('every relative link in %s leads to a file that exists', (file) => {
    const targets = [...read(file).matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1]!.split('#')[0]!)
      .filter((t) => t && !/^[a-z]+:/.test(t));
    const missing = targets.filter((t) => !existsSync(join(repo, dirname(file), t)));
    expect(missing).toEqual([]);
  });

  const adrs = [
    'revocation-through-epochs',
    'ecdsa-by-default',
    'server-side-apply',
    'state-in-the-cluster',
    'one-validating-admission-policy',
    'real-test-environment',
  ];
  it.each(adrs)('an ADR records %s', (topic) => {
    expect(readdirSync(join(repo, 'docs', 'adr')).some((f) => f.includes(topic))).toBe(true);
  });
});
