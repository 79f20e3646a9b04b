// The state transitions act.ts and revoke.ts perform, as tables: issue, adopt, fail and back off,
// revoke, lock.
import { describe, expect, it } from '@jest/globals';
import { currentGroup, type AccountState } from './state.ts';
import type { CertInfo } from '../pki/cert.ts';
import { account, HOUR, NOW, state as legacyState } from './decide-fixtures.ts';
import {
  bindsBothGroups,
  failedState,
  homeCertificate,
  issuedState,
  issuingState,
  leftAloneNote,
  lockedState,
  oldGroups,
  revocable,
  revocationEntry,
  revokedState,
  stateSkewSeconds,
} from './transitions.ts';

const INSTANCE = 'prod';
const MINUTE = 60_000;

/** A state of this release (epoch 3, id `3-abc`) holding the certificate it drew the group for. */
const state = (mods: Partial<AccountState> = {}): AccountState => {
  const base = legacyState({ epochId: '3-abc' });
  return { ...base, certGroup: currentGroup(INSTANCE, base), ...mods };
};

const cert = (mods: Partial<CertInfo> = {}): CertInfo => ({
  serial: 'cd',
  fingerprint: 'ee',
  notBefore: new Date(NOW.getTime() - MINUTE),
  notAfter: new Date(NOW.getTime() + 24 * HOUR),
  commonName: 'tools.foo',
  commonNames: ['tools.foo'],
  groups: [currentGroup(INSTANCE, state())],
  ...mods,
});

const at = (ms: number): Date => new Date(NOW.getTime() + ms);

describe('issuingState and issuedState', () => {
  it('marks a renewal in progress', () => {
    expect(issuingState(state(), NOW)).toEqual({ ...state(), issuing: NOW });
  });

  it.each<[string, Partial<AccountState>]>([
    ['a renewal', { issuing: at(-MINUTE) }],
    ['after failures', { failures: 3, nextAttempt: at(-MINUTE), lastError: 'api-500', status: 'error' }],
    ["a maintain-kubeusers' certificate replaced", { legacyUser: 'foo', certGroup: undefined }],
    ['a uid that changed', { uid: 'tools.old' }],
  ])('%s: active, the new certificate and group, nothing pending', (_name, mods) => {
    const next = issuedState(state(mods), account(), cert(), 'group-x', at(MINUTE));
    expect(next).toEqual({
      ...state(),
      status: 'active',
      uid: 'tools.foo',
      certEpoch: 3,
      certGroup: 'group-x',
      serial: 'cd',
      fingerprint: 'ee',
      notBefore: cert().notBefore,
      notAfter: cert().notAfter,
      failures: 0,
      lastChange: at(MINUTE),
    });
    for (const k of ['issuing', 'nextAttempt', 'lastError', 'legacyUser']) expect(next).not.toHaveProperty(k);
  });
});

describe('failedState: fail and back off', () => {
  it.each<[string, Partial<AccountState>, AccountState['status'], number, number]>([
    [
      'first failure of a new account',
      { serial: undefined, status: 'pending', failures: 0 },
      'error',
      1,
      30_000,
    ],
    ['second failure', { serial: undefined, status: 'error', failures: 1 }, 'error', 2, 60_000],
    ['a renewal failing keeps the working certificate active', { failures: 0 }, 'active', 1, 30_000],
    ['a revoked account stays revoked', { status: 'revoked', failures: 2 }, 'revoked', 3, 120_000],
    ['the backoff is capped at an hour', { serial: undefined, failures: 12 }, 'error', 13, HOUR],
    [
      'the backoff stays within a tenth of the remaining validity',
      { failures: 8, notAfter: at(5 * HOUR) },
      'active',
      9,
      HOUR / 2,
    ],
    [
      'never below the minimum, however little is left',
      { failures: 8, notAfter: at(MINUTE) },
      'active',
      9,
      30_000,
    ],
  ])('%s', (_name, mods, status, failures, backoff) => {
    const failed = failedState(state({ issuing: at(-MINUTE), ...mods }), NOW, 'the signer said no');
    expect(failed).toMatchObject({ status, failures, lastError: 'the signer said no', lastChange: NOW });
    expect(failed.nextAttempt).toEqual(at(backoff));
    expect(failed).not.toHaveProperty('issuing');
  });

  it('keeps a bounded message', () => {
    expect(failedState(state(), NOW, 'x'.repeat(2000)).lastError).toHaveLength(500);
  });
});

describe('leftAloneNote', () => {
  it.each<[string, string[], object]>([
    ['nothing left alone', [], {}],
    ['one file', ['a symlink'], { lastError: 'a symlink' }],
    ['several, joined', ['a', 'b'], { lastError: 'a; b' }],
    ['bounded', ['y'.repeat(600)], { lastError: 'y'.repeat(500) }],
  ])('%s', (_name, messages, note) => {
    expect(leftAloneNote(messages)).toEqual(note);
  });
});

describe('bindsBothGroups and stateSkewSeconds', () => {
  it.each<[string, AccountState, boolean]>([
    ['a state of this release', state(), false],
    ["a previous release's certificate renewed in the same epoch", legacyState({ epochId: '3-abc' }), true],
    ['a locked one binds nothing old', legacyState({ epochId: '3-abc', status: 'locked' }), false],
  ])('%s', (_name, s, both) => {
    expect(bindsBothGroups(INSTANCE, s)).toBe(both);
  });

  it.each<[string, string, Partial<AccountState>, number | undefined]>([
    ['a certificate starting later', 'not-yet-valid', { notBefore: at(90_500) }, 91],
    ['any other reason', 'due', { notBefore: at(90_500) }, undefined],
    ['no certificate recorded', 'not-yet-valid', { notBefore: undefined }, undefined],
  ])('%s', (_name, reason, mods, skew) => {
    expect(stateSkewSeconds(state(mods), reason, NOW)).toBe(skew);
  });
});

describe('lockedState', () => {
  it.each<[string, Partial<AccountState>]>([
    ['an active account', {}],
    ['one mid-issuance and backing off', { issuing: at(-MINUTE), nextAttempt: at(MINUTE), failures: 4 }],
    ["one bound by maintain-kubeusers' user name", { legacyUser: 'foo' }],
  ])('%s: next epoch, locked, nothing pending, no user name bound', (_name, mods) => {
    const locked = lockedState(state(mods), 'xyz', NOW);
    expect(locked).toMatchObject({
      epoch: 4,
      epochId: '4-xyz',
      status: 'locked',
      failures: 0,
      lastChange: NOW,
    });
    for (const k of ['issuing', 'nextAttempt', 'legacyUser']) expect(locked).not.toHaveProperty(k);
    // The certificate's record stays (its revocation and expiry are still told by `status`).
    expect(locked).toMatchObject({ serial: 'ab', certEpoch: 3 });
  });
});

describe('revocation', () => {
  it.each<[string, AccountState | undefined, object]>([
    ['no state', undefined, { refused: { status: 404, reason: 'not-found', message: 'no tool named foo' } }],
    [
      'locked',
      state({ status: 'locked' }),
      {
        refused: {
          status: 409,
          reason: 'conflict',
          message: 'tool foo is locked: it has no credential to revoke',
        },
      },
    ],
    [
      'never issued',
      state({ serial: undefined, fingerprint: undefined }),
      { refused: { status: 409, reason: 'conflict', message: 'tool foo has no certificate yet' } },
    ],
    ['active', state(), { state: state() }],
    [
      'already revoked (a second revocation moves the epoch again)',
      state({ status: 'revoked' }),
      { state: state({ status: 'revoked' }) },
    ],
  ])('%s', (_name, s, outcome) => {
    expect(revocable(s, 'tool', 'foo')).toEqual(outcome);
  });

  it.each<[string, Partial<AccountState>, boolean, AccountState['status']]>([
    ['without reissue', {}, false, 'revoked'],
    ['with reissue', {}, true, 'active'],
    ['with reissue of an account in error', { status: 'error' }, true, 'error'],
    ["maintain-kubeusers' user name dropped", { legacyUser: 'foo' }, false, 'revoked'],
  ])('revokedState %s', (_name, mods, reissue, status) => {
    const next = revokedState(state(mods), 'xyz', NOW, reissue);
    expect(next).toMatchObject({ epoch: 4, epochId: '4-xyz', status, lastChange: NOW, serial: 'ab' });
    expect(next).not.toHaveProperty('legacyUser');
  });

  it.each<[string, Partial<AccountState>, number]>([
    ['the epoch the certificate carried', { epoch: 5, certEpoch: 4 }, 4],
    ['the state epoch when none is recorded', { epoch: 5, certEpoch: undefined }, 5],
  ])('revocationEntry records %s', (_name, mods, epoch) => {
    const check = revocable(state(mods), 'tool', 'foo');
    if (!('state' in check)) throw new Error('not revocable');
    expect(
      revocationEntry(check.state, { kind: 'tool', name: 'foo', actor: 'alice', reason: 'leak' }, NOW),
    ).toEqual({
      serial: 'ab',
      fingerprint: 'ff',
      kind: 'tool',
      account: 'foo',
      epoch,
      actor: 'alice',
      reason: 'leak',
      time: NOW,
      notAfter: state().notAfter,
    });
  });
});

describe('homeCertificate: adopt', () => {
  const issuing = state({
    serial: undefined,
    fingerprint: undefined,
    notBefore: undefined,
    notAfter: undefined,
  });
  const legacyCert = cert({ commonName: 'foo', commonNames: ['foo'], groups: ['toolforge'] });
  const s = { instance: INSTANCE };

  it.each<[string, AccountState, CertInfo, string]>([
    ['an interrupted issuance of ours', issuing, cert(), 'ours'],
    ['ours, interrupted mid-renewal', state({ issuing: at(-MINUTE) }), cert(), 'ours'],
    ['a group of an earlier life', issuing, cert({ groups: ['kubeusers:prod:tool:foo:2-old'] }), 'none'],
    ['another user name', issuing, cert({ commonName: 'tools.bar' }), 'none'],
    ["a previous release's state (no epoch id)", legacyState({ serial: undefined }), cert(), 'none'],
    ["maintain-kubeusers' certificate on a first look", issuing, legacyCert, 'legacy'],
    ["maintain-kubeusers' certificate once we issued", state({ issuing: at(-MINUTE) }), legacyCert, 'none'],
    [
      "maintain-kubeusers' format with another name",
      issuing,
      cert({ commonName: 'bar', groups: ['toolforge'] }),
      'none',
    ],
    [
      "maintain-kubeusers' format with a second group",
      issuing,
      cert({ commonName: 'foo', groups: ['toolforge', 'x'] }),
      'none',
    ],
    ['expired', issuing, cert({ notAfter: at(-1) }), 'none'],
    ['not yet valid', issuing, cert({ notBefore: at(10 * MINUTE) }), 'none'],
  ])('%s: %s', (_name, st, c, use) => {
    expect(homeCertificate(st, account(), c, NOW, s).use).toBe(use);
  });

  it('tells how far ahead a certificate that does not work yet starts', () => {
    expect(homeCertificate(issuing, account(), cert({ notBefore: at(10 * MINUTE) }), NOW, s)).toEqual({
      use: 'none',
      validity: { validity: 'not-yet-valid', skewSeconds: 600 },
    });
  });

  it('adopts ours as active, with the group it carries, nothing pending', () => {
    const v = homeCertificate(
      { ...issuing, failures: 2, nextAttempt: at(MINUTE), lastError: 'x', issuing: NOW },
      account(),
      cert(),
      NOW,
      s,
    );
    expect(v).toEqual({
      use: 'ours',
      state: {
        ...issuing,
        status: 'active',
        serial: 'cd',
        fingerprint: 'ee',
        notBefore: cert().notBefore,
        notAfter: cert().notAfter,
        certEpoch: 3,
        certGroup: currentGroup(INSTANCE, issuing),
        failures: 0,
        lastChange: NOW,
      },
    });
  });

  it("adopts maintain-kubeusers' by user name, with no certificate group", () => {
    const v = homeCertificate(issuing, account(), legacyCert, NOW, s);
    expect(v.use === 'legacy' && v.state).toMatchObject({
      status: 'active',
      legacyUser: 'foo',
      serial: 'cd',
    });
    expect(v.use === 'legacy' && v.state).not.toHaveProperty('certEpoch');
    expect(v.use === 'legacy' && v.state).not.toHaveProperty('certGroup');
  });
});

describe('oldGroups: the identity whose cut-off a revocation waits for', () => {
  const current = currentGroup(INSTANCE, state());
  it.each<[string, AccountState, string[]]>([
    ['a certificate of this release', state(), ['kubeusers:prod:tools', 'kubeusers:tools', current]],
    [
      "a previous release's certificate being renewed: both groups bound, and the one it carries",
      legacyState({ epochId: '3-abc' }),
      ['kubeusers:prod:tools', 'kubeusers:tools', current, 'kubeusers:tool:foo:3'],
    ],
    [
      'a certificate of an earlier epoch still recorded',
      state({ epoch: 4, epochId: '4-def' }),
      [
        'kubeusers:prod:tools',
        'kubeusers:tools',
        currentGroup(INSTANCE, state({ epoch: 4, epochId: '4-def' })),
        current,
      ],
    ],
  ])('%s', (_name, s, groups) => {
    expect(oldGroups(INSTANCE, s)).toEqual(groups);
  });
});
