import { describe, expect, it } from '@jest/globals';
import { deadLocalOneShot, oneShotIdentity, refusalMessage } from './lease.ts';

const NOW = new Date('2026-12-01T12:00:00.000Z');

describe('refusalMessage', () => {
  const cases: [string, Parameters<typeof refusalMessage>[0], string][] = [
    [
      'a live daemon',
      {
        ok: false,
        holder: 'kubeusers-7d9f-abcde',
        renewedAt: new Date('2026-12-01T11:59:58Z'),
        expiresAt: new Date('2026-12-01T12:00:13Z'),
      },
      'the lease kubeusers/kubeusers-leader is held by kubeusers-7d9f-abcde (renewed 2 s ago, valid 13 s more)',
    ],
    [
      'a holder without a renewal time',
      { ok: false, holder: 'once/host-42', expiresAt: new Date('2026-12-01T12:00:00.400Z') },
      'is held by once/host-42 (valid 1 s more)',
    ],
  ];
  it.each(cases)('%s', (_, held, part) => {
    const m = refusalMessage(held, 'kubeusers/kubeusers-leader', NOW);
    expect(m).toContain(part);
    expect(m).toContain('nothing was changed');
    expect(m).toContain('--force');
  });
});

describe('oneShotIdentity', () => {
  it('is never a daemon identity taken from the same configuration', () => {
    expect(oneShotIdentity('host', 42)).toBe('once/host-42');
  });
});

describe('deadLocalOneShot', () => {
  const alive = (pid: number): boolean => pid === 7;
  const cases: [string, string, boolean][] = [
    ['a one-shot of this host, gone', 'once/here-9', true],
    ['a one-shot of this host, running', 'once/here-7', false],
    ['a one-shot of another host', 'once/there-9', false],
    ['a daemon', 'here-9', false],
  ];
  it.each(cases)('%s', (_, holder, want) => expect(deadLocalOneShot(holder, 'here', alive)).toBe(want));
  it('reads a host name with dashes', () =>
    expect(deadLocalOneShot('once/my-host-1-9', 'my-host-1', alive)).toBe(true));
});
