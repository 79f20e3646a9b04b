import { describe, expect, it } from '@jest/globals';
import {
  allObjects,
  indexObject,
  indexObjects,
  observedKey,
  type ObservedObject,
  type OwnObjects,
} from './observed.ts';

const obj = (kind: string, name: string, account?: string, digest = 'd1'): ObservedObject => ({
  kind,
  name,
  ...(kind === 'Namespace' ? {} : { namespace: `tool-${account ?? 'x'}` }),
  digest,
  terminating: false,
  ...(account ? { account: { kind: 'tool' as const, name: account } } : {}),
});

const keysOf = (index: ReadonlyMap<string, OwnObjects>): Record<string, string[]> =>
  Object.fromEntries([...index].map(([k, own]) => [k, [...own.keys()].sort()]));

describe('indexObjects', () => {
  it.each([
    ['nothing', [], {}],
    [
      "one account's objects under its key, by object key",
      [obj('Namespace', 'tool-a', 'a'), obj('RoleBinding', 'rb', 'a')],
      { 'tool/a': ['Namespace//tool-a', 'RoleBinding/tool-a/rb'] },
    ],
    ['objects without an account left out', [obj('RoleBinding', 'rb')], {}],
    [
      'two accounts apart',
      [obj('RoleBinding', 'rb', 'a'), obj('RoleBinding', 'rb', 'b')],
      { 'tool/a': ['RoleBinding/tool-a/rb'], 'tool/b': ['RoleBinding/tool-b/rb'] },
    ],
  ])('%s', (_name, objects, want) => {
    const index = indexObjects(objects);
    expect(keysOf(index)).toEqual(want);
    expect(allObjects(index)).toHaveLength(Object.values(want).flat().length);
  });
});

describe('indexObject', () => {
  const ns = obj('Namespace', 'tool-a', 'a');
  const rb = obj('RoleBinding', 'rb', 'a');
  const cases: [string, ObservedObject[], [ObservedObject, boolean][], Record<string, string[]>][] = [
    ['an object added to a new account', [], [[rb, true]], { 'tool/a': ['RoleBinding/tool-a/rb'] }],
    [
      'an object added beside others',
      [ns],
      [[rb, true]],
      { 'tool/a': ['Namespace//tool-a', 'RoleBinding/tool-a/rb'] },
    ],
    ['one of two removed', [ns, rb], [[rb, false]], { 'tool/a': ['Namespace//tool-a'] }],
    ["the last removed: the account's entry goes", [rb], [[rb, false]], {}],
    ['removing what is not there changes nothing', [ns], [[rb, false]], { 'tool/a': ['Namespace//tool-a'] }],
    [
      'an object without an account is ignored',
      [ns],
      [[obj('RoleBinding', 'x'), true]],
      { 'tool/a': ['Namespace//tool-a'] },
    ],
    [
      'an object relabelled to another account moves (before out, after in)',
      [rb],
      [
        [rb, false],
        [{ ...rb, account: { kind: 'tool', name: 'b' } }, true],
      ],
      { 'tool/b': ['RoleBinding/tool-a/rb'] },
    ],
  ];
  it.each(cases)('%s', (_name, start, changes, want) => {
    const index = indexObjects(start);
    for (const [o, present] of changes) indexObject(index, o, present);
    expect(keysOf(index)).toEqual(want);
  });

  it('replaces the changed content under the same key', () => {
    const index = indexObjects([rb]);
    indexObject(index, { ...rb, digest: 'd2' }, true);
    expect(index.get('tool/a')?.get(observedKey('RoleBinding', 'tool-a', 'rb'))?.digest).toBe('d2');
  });

  it('never changes a map a snapshot already holds (copy of the outer map only)', () => {
    const index = indexObjects([ns]);
    const snapshot = new Map(index);
    const before = snapshot.get('tool/a');
    indexObject(index, rb, true);
    indexObject(index, ns, false);
    expect([...(snapshot.get('tool/a')?.keys() ?? [])]).toEqual(['Namespace//tool-a']);
    expect(snapshot.get('tool/a')).toBe(before);
    expect([...(index.get('tool/a')?.keys() ?? [])]).toEqual(['RoleBinding/tool-a/rb']);
  });
});
