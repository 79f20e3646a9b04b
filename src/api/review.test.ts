import { describe, expect, it } from '@jest/globals';
import type { AccountState } from '../model/state.ts';
import {
  identityHeaders,
  normaliseFingerprint,
  reviewCertificate,
  reviewFingerprint,
  type CredentialView,
  type ReviewContext,
  type VerifiedCertificate,
} from './review.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;
const I = 'prod';
const GROUP = 'kubeusers:prod:tool:web:2-bbbb';

const state = (mods: Partial<AccountState> = {}): AccountState => ({
  kind: 'tool',
  name: 'web',
  uid: 'tools.web',
  uidNumber: 5000,
  gidNumber: 5000,
  home: '/data/project/web',
  epoch: 2,
  epochId: '2-bbbb',
  certEpoch: 2,
  certGroup: GROUP,
  status: 'active',
  serial: 'ab',
  fingerprint: 'f'.repeat(64),
  notBefore: new Date(NOW.getTime() - DAY),
  notAfter: new Date(NOW.getTime() + DAY),
  failures: 0,
  lastChange: NOW,
  ...mods,
});

const cert = (mods: Partial<VerifiedCertificate> = {}): VerifiedCertificate => ({
  fingerprint: 'f'.repeat(64),
  serial: 'ab',
  groups: [GROUP, 'kubeusers:prod:tools'],
  notBefore: new Date(NOW.getTime() - DAY),
  notAfter: new Date(NOW.getTime() + DAY),
  ...mods,
});

const view = (states: AccountState[], synced = true): CredentialView => ({
  synced: () => synced,
  state: (kind, name) => states.find((s) => s.kind === kind && s.name === name),
  byFingerprint: (fp) => states.find((s) => s.fingerprint === fp),
});

const ctx = (states: AccountState[], synced = true): ReviewContext => ({
  instance: I,
  project: 'tools',
  now: NOW,
  view: view(states, synced),
});

describe('reviewCertificate: which certificates a gateway lets through', () => {
  const cases: [string, VerifiedCertificate | undefined, AccountState[], boolean, string][] = [
    ['the current certificate', cert(), [state()], true, 'allowed'],
    [
      'the previous certificate of the same epoch, after a renewal, until it expires',
      cert({ fingerprint: 'e'.repeat(64), serial: 'aa' }),
      [state()],
      true,
      'allowed',
    ],
    ['any certificate while this replica is not synced', cert(), [state()], false, '503 not-synced'],
    ['a certificate the cluster CA did not sign', undefined, [state()], true, '401 untrusted-certificate'],
    [
      'an expired certificate',
      cert({ notAfter: new Date(NOW.getTime() - 1) }),
      [state()],
      true,
      '401 expired-certificate',
    ],
    [
      'a certificate not valid yet',
      cert({ notBefore: new Date(NOW.getTime() + 1000) }),
      [state()],
      true,
      '401 certificate-not-yet-valid',
    ],
    [
      'a certificate with no epoch group (not issued by kubeusers)',
      cert({ groups: ['system:nodes'], fingerprint: 'd'.repeat(64) }),
      [state()],
      true,
      '401 not-a-kubeusers-credential',
    ],
    [
      'a certificate of an earlier epoch (revoked)',
      cert({ groups: ['kubeusers:prod:tool:web:1-aaaa'] }),
      [state()],
      true,
      '403 credential-superseded',
    ],
    [
      'a certificate of a locked account',
      cert(),
      [state({ status: 'locked' })],
      true,
      '403 credential-revoked',
    ],
    [
      'a certificate of an account revoked without reissue',
      cert(),
      [state({ status: 'revoked' })],
      true,
      '403 credential-revoked',
    ],
    ['a certificate of a removed account', cert(), [], true, '403 credential-revoked'],
    [
      "another installation's certificate",
      cert({ groups: ['kubeusers:staging:tool:web:2-bbbb'], fingerprint: 'c'.repeat(64) }),
      [state()],
      true,
      '401 not-a-kubeusers-credential',
    ],
    [
      'a maintain-kubeusers certificate adopted by name, by its fingerprint',
      cert({ groups: ['toolforge'] }),
      [state({ legacyUser: 'web', certEpoch: undefined, certGroup: undefined })],
      true,
      'allowed',
    ],
  ];
  it.each(cases)('%s', (_, c, states, synced, expected) => {
    const r = reviewCertificate(c, ctx(states, synced));
    expect(r.allowed ? 'allowed' : `${r.status} ${r.reason}`).toBe(expected);
  });

  it("names the account, its project, epoch and the certificate's end", () => {
    const r = reviewCertificate(cert(), ctx([state()]));
    expect(r.allowed && identityHeaders(r.identity)).toEqual({
      'X-Kubeusers-Kind': 'tool',
      'X-Kubeusers-Name': 'web',
      'X-Kubeusers-Project': 'tools',
      'X-Kubeusers-Epoch': '2',
      'X-Kubeusers-Not-After': '2026-06-02T00:00:00.000Z',
    });
  });
});

describe('reviewFingerprint: only the current certificate is known by its fingerprint', () => {
  const cases: [string, string, AccountState[], boolean, string][] = [
    ['the current certificate', 'f'.repeat(64), [state()], true, 'allowed'],
    ['a previous certificate', 'e'.repeat(64), [state()], true, '401 unknown-credential'],
    ['not synced', 'f'.repeat(64), [state()], false, '503 not-synced'],
    ['a locked account', 'f'.repeat(64), [state({ status: 'locked' })], true, '403 credential-revoked'],
    [
      'a current certificate past its end',
      'f'.repeat(64),
      [state({ notAfter: new Date(NOW.getTime() - 1) })],
      true,
      '401 expired-certificate',
    ],
    [
      'a state whose epoch moved on before the new certificate was issued',
      'f'.repeat(64),
      [state({ epoch: 3, epochId: '3-cccc' })],
      true,
      '403 credential-superseded',
    ],
  ];
  it.each(cases)('%s', (_, fp, states, synced, expected) => {
    const r = reviewFingerprint(fp, ctx(states, synced));
    expect(r.allowed ? 'allowed' : `${r.status} ${r.reason}`).toBe(expected);
  });
});

describe('normaliseFingerprint', () => {
  it.each([
    ['AB:'.repeat(31) + 'AB', 'ab'.repeat(32)],
    ['ab'.repeat(32), 'ab'.repeat(32)],
    ['ab'.repeat(31), undefined],
    ['zz'.repeat(32), undefined],
  ])('%s', (input, expected) => expect(normaliseFingerprint(input)).toBe(expected));
});
