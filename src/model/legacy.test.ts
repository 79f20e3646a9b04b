import { describe, expect, it } from '@jest/globals';
import { isLegacyCertificate } from './legacy.ts';

const tool = { kind: 'tool' as const, name: 'foo' };

describe('isLegacyCertificate', () => {
  const cases: [
    string,
    { commonName: string; groups: string[] },
    { kind: 'tool' | 'admin'; name: string },
    boolean,
  ][] = [
    ["maintain-kubeusers' own subject", { commonName: 'foo', groups: ['toolforge'] }, tool, true],
    [
      "kubeusers' own subject (would revive every certificate of the account)",
      { commonName: 'tools.foo', groups: ['kubeusers:k:tools', 'kubeusers:k:tool:foo:1-ab'] },
      tool,
      false,
    ],
    [
      'the project-prefixed name with O=toolforge',
      { commonName: 'tools.foo', groups: ['toolforge'] },
      tool,
      false,
    ],
    ["another tool's name", { commonName: 'bar', groups: ['toolforge'] }, tool, false],
    ['a system user', { commonName: 'system:kube-controller-manager', groups: ['toolforge'] }, tool, false],
    ['no group', { commonName: 'foo', groups: [] }, tool, false],
    ['an extra group', { commonName: 'foo', groups: ['toolforge', 'system:masters'] }, tool, false],
    ['another group', { commonName: 'foo', groups: ['admins'] }, tool, false],
    ['an admin', { commonName: 'foo', groups: ['toolforge'] }, { kind: 'admin', name: 'foo' }, false],
  ];
  it.each(cases)('%s', (_, cert, account, expected) => {
    expect(isLegacyCertificate(cert, account)).toBe(expected);
  });
});
