import { describe, expect, it } from '@jest/globals';
import { decideReload, type ReloadDecision, type ReloadInput } from './watched-file.ts';

describe('decideReload', () => {
  const cases: [string, ReloadInput, ReloadDecision][] = [
    [
      'the same contents change nothing (an event for another file of the directory)',
      { inUse: 'a', read: 'a', valid: true, lastRefused: undefined },
      { action: 'unchanged' },
    ],
    [
      'the same contents after a refused state change nothing either',
      { inUse: 'a', read: 'a', valid: true, lastRefused: 'b' },
      { action: 'unchanged' },
    ],
    [
      'new contents that parse are taken',
      { inUse: 'a', read: 'b', valid: true, lastRefused: undefined },
      { action: 'take' },
    ],
    [
      'new contents that parse are taken after a refused state (the key arrived after the certificate)',
      { inUse: 'a', read: 'c', valid: true, lastRefused: 'b' },
      { action: 'take' },
    ],
    [
      'new contents that do not parse are refused, and said',
      { inUse: 'a', read: 'b', valid: false, lastRefused: undefined },
      { action: 'refuse', log: true },
    ],
    [
      'the same unusable contents again are refused quietly (the poll sees them every minute)',
      { inUse: 'a', read: 'b', valid: false, lastRefused: 'b' },
      { action: 'refuse', log: false },
    ],
    [
      'other unusable contents are said again',
      { inUse: 'a', read: 'c', valid: false, lastRefused: 'b' },
      { action: 'refuse', log: true },
    ],
  ];
  it.each(cases)('%s', (_, input, want) => expect(decideReload(input)).toEqual(want));
});
