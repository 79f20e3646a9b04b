import { describe, expect, it } from '@jest/globals';
import type { ObservedObject } from '../model/observed.ts';
import { isForeign, type Expected, type ObjectChange } from './foreign.ts';

const obj = (digest: string, terminating = false): ObservedObject => ({
  kind: 'RoleBinding',
  name: 'kubeusers-tool',
  namespace: 'tool-a',
  digest,
  terminating,
});

describe('isForeign', () => {
  const wrote = (digest: string): Expected => ({ digest });
  const deleted: Expected = { deleted: true };
  const cases: [string, ObjectChange, Expected | undefined, boolean, boolean][] = [
    [
      'our own write, its event first',
      { type: 'MODIFIED', before: obj('d0'), after: obj('d1') },
      wrote('d1'),
      false,
      false,
    ],
    ['our own create', { type: 'ADDED', after: obj('d1') }, wrote('d1'), false, false],
    [
      'content changed after our write',
      { type: 'MODIFIED', before: obj('d1'), after: obj('d2') },
      wrote('d1'),
      false,
      true,
    ],
    [
      'changed, nothing written since start',
      { type: 'MODIFIED', before: obj('d1'), after: obj('d2') },
      undefined,
      false,
      true,
    ],
    ['deleted by someone else', { type: 'DELETED', before: obj('d1') }, wrote('d1'), false, true],
    ['deleted by us', { type: 'DELETED', before: obj('d1') }, deleted, false, false],
    ['made again by someone after our delete', { type: 'ADDED', after: obj('d1') }, deleted, false, true],
    ['gone with its namespace', { type: 'DELETED', before: obj('d1') }, wrote('d1'), true, false],
    [
      'terminating: someone deleted it',
      { type: 'MODIFIED', before: obj('d1'), after: obj('d1', true) },
      wrote('d1'),
      false,
      true,
    ],
    [
      'terminating: we deleted it',
      { type: 'MODIFIED', before: obj('d1'), after: obj('d1', true) },
      deleted,
      false,
      false,
    ],
    [
      'still terminating',
      { type: 'MODIFIED', before: obj('d1', true), after: obj('d2', true) },
      undefined,
      false,
      false,
    ],
  ];
  it.each(cases)('%s', (_name, change, expected, going, want) =>
    expect(isForeign(change, expected, going)).toBe(want),
  );
});
