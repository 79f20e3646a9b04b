import { describe, expect, it } from '@jest/globals';
import { CsrFailedError, CsrWaitError } from '../cluster/csr.ts';
import { NotLeaderError } from '../cluster/errors.ts';
import { IssueError } from '../cluster/issuer.ts';
import { HomeError } from '../homes/safe-fs.ts';
import { failureReason } from './act.ts';

// The metric reason of a failed account comes from the error's class and code, never its text.
const cases: [string, unknown, string][] = [
  ['the lease lost mid-sync', new NotLeaderError(), 'not-leader'],
  ['the lease lost, wrapped', new Error('apply failed', { cause: new NotLeaderError() }), 'not-leader'],
  ['a file left alone', new HomeError('x is a symlink', 'symlink'), 'home-symlink'],
  ['a denied CSR', new CsrFailedError('CSR x denied'), 'csr-denied'],
  [
    'the signer too slow',
    new CsrWaitError('CSR x was not signed within 1 ms', 'sign-timeout'),
    'sign-timeout',
  ],
  ['the watch ended', new CsrWaitError('watch on CSR x closed', 'watch-ended'), 'watch-ended'],
  [
    'a refused certificate',
    new IssueError('key-mismatch', 'the key does not match'),
    'certificate-key-mismatch',
  ],
  ['an API status', Object.assign(new Error('Forbidden'), { code: 403 }), 'api-403'],
  [
    'no answer',
    new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
    'api-unreachable',
  ],
  ['a message that merely says it', new Error('CSR x was not signed within 5 ms'), 'other'],
  ['not an Error', 'boom', 'other'],
];

describe('failureReason', () => {
  it.each(cases)('%s', (_name, err, reason) => {
    expect(failureReason(err)).toBe(reason);
  });
});
