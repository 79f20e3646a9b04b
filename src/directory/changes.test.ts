import { describe, expect, it } from '@jest/globals';
import type { ChangedEntry } from '../model/account.ts';
import {
  advanceMark,
  distinctChanges,
  membershipChanges,
  toolNameOfCn,
  type ChangeMark,
  type Stamped,
} from './changes.ts';

const e = (dn: string, stamp: string): Stamped => ({ dn, stamp, kind: 'tool', name: dn });
const mark = (stamp: string, ...dns: string[]): ChangeMark => ({ stamp, dns: new Set(dns) });
const S1 = '20261201100000Z';
const S2 = '20261201100001Z';

describe('advanceMark', () => {
  const cases: [string, ChangeMark, Stamped[], string[], ChangeMark][] = [
    ['nothing found keeps the mark', mark(S1, 'a'), [], [], mark(S1, 'a')],
    [
      'a newer entry is fresh and moves the mark',
      mark(S1, 'a'),
      [e('a', S1), e('b', S2)],
      ['b'],
      mark(S2, 'b'),
    ],
    ['an entry seen at the mark is not reported again', mark(S1, 'a'), [e('a', S1)], [], mark(S1, 'a')],
    [
      'another entry in the same second as the mark is fresh, and remembered with the first',
      mark(S1, 'a'),
      [e('a', S1), e('b', S1)],
      ['b'],
      mark(S1, 'a', 'b'),
    ],
    [
      'two entries in the newest second are both remembered',
      mark(S1),
      [e('a', S2), e('b', S2)],
      ['a', 'b'],
      mark(S2, 'a', 'b'),
    ],
    ['an entry modified again later is fresh again', mark(S1, 'a'), [e('a', S2)], ['a'], mark(S2, 'a')],
  ];
  it.each(cases)('%s', (_, before, found, fresh, after) => {
    const r = advanceMark(before, found);
    expect(r.fresh.map((f) => f.dn)).toEqual(fresh);
    expect(r.mark.stamp).toBe(after.stamp);
    expect([...r.mark.dns].sort()).toEqual([...after.dns].sort());
  });
});

describe('membershipChanges', () => {
  const set = (...m: string[]): Set<string> => new Set(m);
  const cases: [string, Set<string> | undefined, Set<string>, ChangedEntry[]][] = [
    ['the first look only learns the members', undefined, set('ann'), []],
    ['unchanged membership says nothing', set('ann'), set('ann'), []],
    ['a member added is an admin change', set('ann'), set('ann', 'bob'), [{ kind: 'admin', name: 'bob' }]],
    [
      'a member taken out is a removal',
      set('ann', 'bob'),
      set('ann'),
      [{ kind: 'admin', name: 'bob', left: true }],
    ],
    [
      'both at once',
      set('ann'),
      set('bob'),
      [
        { kind: 'admin', name: 'bob' },
        { kind: 'admin', name: 'ann', left: true },
      ],
    ],
  ];
  it.each(cases)('%s', (_, before, after, want) => expect(membershipChanges(before, after)).toEqual(want));
});

describe('distinctChanges', () => {
  const cases: [string, ChangedEntry[], ChangedEntry[]][] = [
    [
      'one per account',
      [
        { kind: 'tool', name: 'a' },
        { kind: 'tool', name: 'a' },
      ],
      [{ kind: 'tool', name: 'a' }],
    ],
    [
      'a tool and an admin of one name are two accounts',
      [
        { kind: 'tool', name: 'a' },
        { kind: 'admin', name: 'a' },
      ],
      [
        { kind: 'tool', name: 'a' },
        { kind: 'admin', name: 'a' },
      ],
    ],
    [
      'a removal wins over a modification',
      [
        { kind: 'admin', name: 'a' },
        { kind: 'admin', name: 'a', left: true },
      ],
      [{ kind: 'admin', name: 'a', left: true }],
    ],
    [
      'whatever the order',
      [
        { kind: 'admin', name: 'a', left: true },
        { kind: 'admin', name: 'a' },
      ],
      [{ kind: 'admin', name: 'a', left: true }],
    ],
  ];
  it.each(cases)('%s', (_, input, want) => expect(distinctChanges(input)).toEqual(want));
});

describe('toolNameOfCn', () => {
  const cases: [string, string, string | undefined][] = [
    ['this project', 'tools.alpha', 'alpha'],
    ['another project', 'toolsbeta.alpha', undefined],
    ['the bare prefix', 'tools.', undefined],
    ['no prefix', 'alpha', undefined],
  ];
  it.each(cases)('%s', (_, cn, want) => expect(toolNameOfCn(cn, 'tools')).toBe(want));
});
