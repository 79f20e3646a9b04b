import { describe, expect, it } from '@jest/globals';
import type { AccountState } from '../model/state.ts';
import { staleReason, type StaleReason } from './credential.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const I = 'prod';

const state = (mods: Partial<AccountState> = {}): AccountState => ({
  kind: 'admin',
  name: 'alice',
  uid: 'alice',
  uidNumber: 5000,
  gidNumber: 5000,
  home: '/home/alice',
  epoch: 2,
  epochId: '2-bbbb',
  certEpoch: 2,
  certGroup: 'kubeusers:prod:admin:alice:2-bbbb',
  status: 'active',
  serial: 'ab',
  fingerprint: 'ff',
  failures: 0,
  lastChange: NOW,
  ...mods,
});

describe('staleReason: which certificates the admin API refuses', () => {
  const cases: [string, string[], boolean, AccountState | undefined, StaleReason | undefined][] = [
    [
      'the current certificate',
      ['kubeusers:prod:admins', 'kubeusers:prod:admin:alice:2-bbbb'],
      false,
      state(),
      undefined,
    ],
    ['in the revocation ledger', ['kubeusers:prod:admin:alice:2-bbbb'], true, state(), 'credential-revoked'],
    ['an earlier epoch', ['kubeusers:prod:admin:alice:1-aaaa'], false, state(), 'credential-superseded'],
    [
      'an earlier life of the account (removed, re-added: same epoch number, new id)',
      ['kubeusers:prod:admin:alice:1-aaaa'],
      false,
      state({ epoch: 1, epochId: '1-cccc', certGroup: 'kubeusers:prod:admin:alice:1-cccc' }),
      'credential-superseded',
    ],
    [
      'an account whose state is gone',
      ['kubeusers:prod:admin:alice:2-bbbb'],
      false,
      undefined,
      'credential-revoked',
    ],
    [
      'a locked account',
      ['kubeusers:prod:admin:alice:2-bbbb'],
      false,
      state({ status: 'locked' }),
      'credential-revoked',
    ],
    [
      'a revoked account',
      ['kubeusers:prod:admin:alice:2-bbbb'],
      false,
      state({ status: 'revoked' }),
      'credential-revoked',
    ],
    ['another installation', ['kubeusers:staging:admin:alice:2-bbbb'], false, state(), 'foreign-credential'],
    [
      "a previous release's certificate of a previous release's state",
      ['kubeusers:admins', 'kubeusers:admin:alice:2'],
      false,
      state({ epochId: undefined, certGroup: undefined }),
      undefined,
    ],
    [
      "a previous release's certificate after the state moved on",
      ['kubeusers:admin:alice:1'],
      false,
      state({ epochId: undefined, certGroup: undefined }),
      'credential-superseded',
    ],
    [
      'a previous release’s certificate after its state moved to the new form',
      ['kubeusers:admin:alice:2'],
      false,
      state({ certGroup: 'kubeusers:prod:admin:alice:2-bbbb' }),
      'credential-superseded',
    ],
    [
      'no kubeusers epoch group at all: left to RBAC',
      ['system:authenticated', 'ops'],
      false,
      undefined,
      undefined,
    ],
    [
      'one good and one stale epoch group',
      ['kubeusers:prod:admin:alice:2-bbbb', 'kubeusers:prod:admin:alice:1-aaaa'],
      false,
      state(),
      'credential-superseded',
    ],
  ];
  it.each(cases)('%s', (_, groups, inLedger, st, expected) => {
    const states = new Map([['admin/alice', st]]);
    expect(staleReason(groups, I, inLedger, states)).toBe(expected);
  });
});

describe('rememberedIds', () => {
  it('gives what certificateIds gives, and keeps at most the entries asked for', async () => {
    const { makeClusterPki } = await import('../../test/env/pki.ts');
    const { certificateIds, rememberedIds } = await import('./credential.ts');
    const { pemToDer } = await import('./review-certs.ts');
    const pki = await makeClusterPki();
    const ids = rememberedIds(1);
    for (const pem of [pki.admin.cert, pki.controllerManager.cert, pki.admin.cert]) {
      const der = pemToDer(pem)!;
      expect(ids(der)).toEqual(certificateIds(der));
    }
  });
});
