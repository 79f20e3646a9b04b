import { describe, expect, it } from '@jest/globals';
import { accountKey, type Account } from './account.ts';
import type { AccountState } from './state.ts';
import type { AccountPlan, Step } from './decide.ts';
import { account, HOUR, NOW, state } from './decide-fixtures.ts';
import { waitingAccounts, type Waiting } from './credentials.ts';

const later = new Date(NOW.getTime() + HOUR);
const plan = (steps: Step['do'][] = [], mods: Partial<AccountPlan> = {}): AccountPlan => ({
  kind: 'tool',
  name: 'foo',
  steps: steps.map((d) => ({ do: d }) as Step),
  removal: false,
  ...mods,
});
const never: Partial<AccountState> = {
  status: 'error',
  notBefore: undefined,
  notAfter: undefined,
  serial: undefined,
};

describe('waitingAccounts: who ends a one-shot run without working credentials, untried', () => {
  const cases: [string, AccountPlan, AccountState | undefined, Account | undefined, Waiting[]][] = [
    ['a working certificate, nothing to do', plan(), state(), account(), []],
    [
      'never issued, backing off after a failure',
      plan(),
      state({ ...never, lastError: 'home belongs to uid 0', nextAttempt: later }),
      account(),
      [{ account: 'tool/foo', reason: 'home belongs to uid 0', until: later }],
    ],
    [
      'expired, its renewal backing off',
      plan(),
      state({ notAfter: new Date(NOW.getTime() - HOUR), lastError: 'sign timeout', nextAttempt: later }),
      account(),
      [{ account: 'tool/foo', reason: 'sign timeout', until: later }],
    ],
    [
      'expired, no error recorded',
      plan(),
      state({ notAfter: new Date(NOW.getTime() - HOUR) }),
      account(),
      [{ account: 'tool/foo', reason: 'expired' }],
    ],
    [
      'a working certificate, its renewal backing off: it still works',
      plan(),
      state({ lastError: 'sign timeout', nextAttempt: later }),
      account(),
      [],
    ],
    ['tried in this run: the run reports its outcome', plan(['adopt-or-issue']), state(never), account(), []],
    ['locked in the directory', plan(), state(never), account({ locked: true }), []],
    ['revoked without a reissue', plan(), state({ ...never, status: 'revoked' }), account(), []],
    ['no longer in the directory', plan([], { removal: true }), state(never), undefined, []],
    ['no state yet (a first look issues)', plan(), undefined, account(), []],
  ];

  it.each(cases)('%s', (_, p, st, a, want) => {
    const accounts = new Map(a ? [['tool/foo', a]] : []);
    expect(
      waitingAccounts([p], new Map(st ? [[accountKey(st.kind, st.name), st]] : []), accounts, NOW),
    ).toEqual(want);
  });
});
