import { once } from 'node:events';
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from '@jest/globals';
import {
  certificateErrorCode,
  connectOnce,
  plaintextServers,
  tlsOptionsFor,
  transportOf,
  type Transport,
} from './transport.ts';

describe('transportOf', () => {
  const cases: [string, string, boolean, Transport][] = [
    ['ldaps:// is TLS from the first byte', 'ldaps://ldap.example.org', false, 'ldaps'],
    ['ldaps:// stays ldaps with startTls set', 'ldaps://ldap.example.org:636', true, 'ldaps'],
    ['ldap:// with startTls upgrades', 'ldap://ldap.example.org', true, 'starttls'],
    ['ldap:// without startTls is plaintext', 'ldap://ldap.example.org:389', false, 'plaintext'],
    ['the scheme is case-insensitive', 'LDAPS://ldap.example.org', false, 'ldaps'],
  ];
  it.each(cases)('%s', (_, url, startTls, transport) => expect(transportOf(url, startTls)).toBe(transport));
});

describe('plaintextServers', () => {
  it('names only the plaintext ones, without user info', () => {
    expect(
      plaintextServers(['ldaps://a.example:636', 'ldap://u:p@b.example:389', 'ldap://c.example'], false),
    ).toEqual(['ldap://b.example:389', 'ldap://c.example']);
  });
  it('is empty with StartTLS', () => expect(plaintextServers(['ldap://b.example'], true)).toEqual([]));
});

describe('tlsOptionsFor', () => {
  const cases: [string, string, string | undefined, Record<string, unknown>][] = [
    [
      'a host name is checked and sent as SNI',
      'ldaps://ldap.example.org:636',
      undefined,
      { host: 'ldap.example.org', servername: 'ldap.example.org', rejectUnauthorized: true },
    ],
    ['an IPv4 address is checked, no SNI', 'ldap://127.0.0.1:389', 'CA', { host: '127.0.0.1', ca: 'CA' }],
    ['an IPv6 address loses its brackets', 'ldaps://[::1]:636', undefined, { host: '::1' }],
  ];
  it.each(cases)('%s', (_, url, ca, expected) => {
    const o = tlsOptionsFor(url, ca);
    expect(o).toMatchObject(expected);
    expect(o.rejectUnauthorized).toBe(true);
    if (!('servername' in expected)) expect(o.servername).toBeUndefined();
    if (ca === undefined) expect('ca' in o).toBe(false);
  });
});

describe('certificateErrorCode', () => {
  const err = (code: unknown): Error => Object.assign(new Error('x'), { code });
  const cases: [string, unknown, string | undefined][] = [
    ['another CA', err('SELF_SIGNED_CERT_IN_CHAIN'), 'SELF_SIGNED_CERT_IN_CHAIN'],
    ['an unknown issuer', err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['another host name', err('ERR_TLS_CERT_ALTNAME_INVALID'), 'ERR_TLS_CERT_ALTNAME_INVALID'],
    ['an expired certificate', err('CERT_HAS_EXPIRED'), 'CERT_HAS_EXPIRED'],
    ['a refused connection', err('ECONNREFUSED'), undefined],
    ['an LDAP result code', err(49), undefined],
    ['not an error', 'SELF_SIGNED_CERT_IN_CHAIN', undefined],
  ];
  it.each(cases)('%s', (_, e, code) => expect(certificateErrorCode(e)).toBe(code));
});

describe('connectOnce', () => {
  /** Calls as ldapts makes them: `plain`/`ldaps` open a connection, `upgrade` is startTLS(). */
  type Call = 'plain' | 'ldaps' | 'upgrade' | 'options';
  const cases: [string, Call[], ('opened' | 'refused' | 'upgraded')[]][] = [
    ['the first plain connect opens', ['plain'], ['opened']],
    ['a plain reconnect is refused', ['plain', 'plain', 'plain'], ['opened', 'refused', 'refused']],
    ['an ldaps reconnect is refused', ['ldaps', 'ldaps'], ['opened', 'refused']],
    [
      'the StartTLS upgrade of the connection passes',
      ['plain', 'upgrade', 'plain'],
      ['opened', 'upgraded', 'refused'],
    ],
    ['an upgrade does not use up the connect', ['upgrade', 'plain'], ['upgraded', 'opened']],
    ['one options object without a socket is a connect', ['options', 'options'], ['opened', 'refused']],
    ['plain and ldaps share the one connect', ['ldaps', 'plain'], ['opened', 'refused']],
  ];
  it.each(cases)('%s', async (_, calls, outcomes) => {
    const opened: string[] = [];
    const socket = (how: string): Socket => {
      opened.push(how);
      return new Socket();
    };
    const refusal = new Error('closed, not reopened');
    const f = connectOnce(() => refusal, {
      net: () => socket('net'),
      tls: () => socket('tls') as TLSSocket,
    });
    const results: ('opened' | 'refused' | 'upgraded')[] = [];
    for (const call of calls) {
      const before = opened.length;
      const s =
        call === 'plain'
          ? f.createConnection(389, 'ldap.example.org')
          : call === 'ldaps'
            ? f.createSecureConnection(636, 'ldap.example.org', {})
            : call === 'upgrade'
              ? f.createSecureConnection({ socket: new Socket(), host: 'ldap.example.org' })
              : f.createSecureConnection({ host: 'ldap.example.org', port: 636 });
      if (opened.length > before) {
        results.push(call === 'upgrade' ? 'upgraded' : 'opened');
        continue;
      }
      // Refused: nothing opened, and the socket fails with the refusal for ldapts to reject with.
      const [err] = (await once(s, 'error')) as [Error];
      expect(err).toBe(refusal);
      expect(s.destroyed).toBe(true);
      results.push('refused');
    }
    expect(results).toEqual(outcomes);
  });
});

describe('connectOnce: closed', () => {
  /** `close-*` destroys the socket of that call; `refused` is a reconnect (its socket fails). */
  type Step = 'plain' | 'upgrade' | 'refused' | 'close-plain' | 'close-upgrade';
  const cases: [string, Step[], boolean][] = [
    ['not before a connection was opened', [], false],
    ['not while the connection is open', ['plain', 'upgrade'], false],
    ['a plaintext connection that ended', ['plain', 'close-plain'], true],
    ['a StartTLS connection whose TLS socket ended', ['plain', 'upgrade', 'close-upgrade'], true],
    ['a StartTLS connection whose plain socket ended', ['plain', 'upgrade', 'close-plain'], true],
    ['not for a refused reconnect while the connection is open', ['plain', 'refused'], false],
  ];
  it.each(cases)('%s', async (_, steps, closed) => {
    const f = connectOnce(() => new Error('closed, not reopened'), {
      net: () => new Socket(),
      tls: () => new Socket() as TLSSocket,
    });
    const made = new Map<Step, Socket>();
    for (const step of steps) {
      if (step === 'close-plain' || step === 'close-upgrade') {
        const s = made.get(step === 'close-plain' ? 'plain' : 'upgrade')!.destroy();
        await once(s, 'close');
      } else if (step === 'upgrade') {
        made.set(step, f.createSecureConnection({ socket: made.get('plain')!, host: 'ldap.example.org' }));
      } else {
        const s = f.createConnection(389, 'ldap.example.org');
        made.set(step, s);
        // A refused reconnect's socket fails: that is not the connection ending.
        if (step === 'refused') await once(s, 'error');
      }
    }
    expect(f.closed()).toBe(closed);
  });
});
