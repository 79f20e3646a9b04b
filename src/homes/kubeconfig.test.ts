import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { mergeKubeconfig, type KubeconfigEntry } from './kubeconfig.ts';

const entry: KubeconfigEntry = {
  clusterName: 'toolforge',
  server: 'https://k8s.example:6443',
  caData: 'Q0E=',
  userName: 'toolforge-tools.foo',
  certPath: '../.toolskube/client.crt',
  keyPath: '../.toolskube/client.key',
  contextName: 'toolforge',
  namespace: 'tool-foo',
};

type Kc = {
  clusters: { name: string }[];
  users: { name: string; user: Record<string, string> }[];
  contexts: { name: string; context: Record<string, string> }[];
  'current-context': string;
};
const ok = (r: ReturnType<typeof mergeKubeconfig>): Kc => {
  if ('error' in r) throw new Error(r.error);
  return parse(r.ok) as Kc;
};

describe('mergeKubeconfig', () => {
  const fresh: [string, string | undefined][] = [
    ['absent', undefined],
    ['empty', ''],
    ['whitespace', '  \n'],
    ['comments only', '# nothing\n'],
  ];
  it.each(fresh)('writes a whole config when the old one is %s', (_, existing) => {
    const kc = ok(mergeKubeconfig(existing, entry));
    expect(kc['current-context']).toBe('toolforge');
    expect(kc.contexts).toEqual([
      {
        name: 'toolforge',
        context: { cluster: 'toolforge', user: 'toolforge-tools.foo', namespace: 'tool-foo' },
      },
    ]);
    expect(kc.users[0]?.user).toEqual({
      'client-certificate': '../.toolskube/client.crt',
      'client-key': '../.toolskube/client.key',
    });
  });

  const refused: [string, string, RegExp][] = [
    ['not YAML', 'clusters: [', /does not parse/],
    ['a list', '- a\n- b\n', /not a YAML mapping/],
    ['a scalar', 'hello', /not a YAML mapping/],
    ['clusters not a list', 'clusters: {a: 1}\n', /"clusters" is not a list/],
  ];
  it.each(refused)('refuses a config that is %s', (_, text, message) => {
    const r = mergeKubeconfig(text, entry);
    expect('error' in r && r.error).toMatch(message);
  });

  it('keeps the user\u2019s entries and choice of context, and replaces only its own', () => {
    const mine = `apiVersion: v1
kind: Config
current-context: other
clusters:
- name: other
  cluster: {server: https://other}
- name: toolforge
  cluster: {server: https://stale}
users: []
contexts:
- name: other
  context: {cluster: other, user: me}
preferences: {colors: true}
`;
    const kc = ok(mergeKubeconfig(mine, entry));
    expect(kc['current-context']).toBe('other');
    expect(kc.clusters.map((c) => c.name)).toEqual(['other', 'toolforge']);
    expect(JSON.stringify(kc.clusters[1])).toContain('https://k8s.example:6443');
    expect(kc.contexts.map((c) => c.name)).toEqual(['other', 'toolforge']);
    expect((kc as unknown as { preferences: unknown }).preferences).toEqual({ colors: true });
  });

  it('is stable: merging twice gives the same text', () => {
    const once = mergeKubeconfig('current-context: x\n', entry);
    const twice = 'ok' in once ? mergeKubeconfig(once.ok, entry) : once;
    expect(twice).toEqual(once);
  });
});

describe('mergeKubeconfig: the style of the file written', () => {
  it('writes a new config in block style, as kubectl does', () => {
    const r = mergeKubeconfig(undefined, entry);
    expect('ok' in r && r.ok).toBe(
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '  - name: toolforge',
        '    cluster:',
        '      server: https://k8s.example:6443',
        '      certificate-authority-data: Q0E=',
        'users:',
        '  - name: toolforge-tools.foo',
        '    user:',
        '      client-certificate: ../.toolskube/client.crt',
        '      client-key: ../.toolskube/client.key',
        'contexts:',
        '  - name: toolforge',
        '    context:',
        '      cluster: toolforge',
        '      user: toolforge-tools.foo',
        '      namespace: tool-foo',
        'current-context: toolforge',
        '',
      ].join('\n'),
    );
  });

  const kept: [string, string, RegExp][] = [
    [
      'a block-style config stays block style',
      'apiVersion: v1\nkind: Config\npreferences: {}\n',
      /^clusters:\n {2}- name: toolforge\n/m,
    ],
    [
      'a flow-style config stays flow style',
      '{ apiVersion: v1, kind: Config, clusters: [] }\n',
      /^\{\s*apiVersion: v1,\s*kind: Config,\s*clusters:/,
    ],
    ['an empty file (comments only) gets block style', '# mine\n', /^clusters:\n/m],
  ];
  it.each(kept)('%s', (_, existing, want) => {
    const r = mergeKubeconfig(existing, entry);
    expect('ok' in r ? r.ok : r.error).toMatch(want);
  });
});
