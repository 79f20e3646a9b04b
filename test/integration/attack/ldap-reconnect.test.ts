// A connection to the directory reset on the network path (a server restart, an idle timeout, or an
// attacker injecting a TCP RST) must not be reopened by the LDAP client behind kubeusers' back:
// ldapts reopens a closed socket by itself before the next operation, in plaintext on an ldap://
// URL, without StartTLS and without a bind, so that operation's filter (project name, admin uids,
// timestamps) would go out in clear to whoever reset the connection. The attacker here is a
// transparent relay (test/env/interceptor.ts, `plain`): StartTLS is negotiated end to end with the
// real slapd, and the relay keeps what it could read and resets every connection when told.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Client } from 'ldapts';
import { clearOperations, startInterceptor, type Interceptor } from '../../env/interceptor.ts';
import { DirectoryFixture, dn, testEnv } from '../../env/index.ts';
import { until } from '../../env/wait.ts';
import { scenarioInput } from '../support.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { DirectoryError, fixed, LdapDirectory, ldapClient } from '../../../src/directory/ldap.ts';
import { tlsOptionsFor } from '../../../src/directory/transport.ts';
import { directoryOptions } from '../../../src/main.ts';

const PROJECT = 'lrc';
const env = testEnv();
const password = readFileSync(env.ldap.servicePasswordFile, 'utf8');
const ca = readFileSync(env.ldap.caFile, 'utf8');
const open: Interceptor[] = [];

/** Whatever an operation settles with, to assert on the relay's record before on the answer. */
const settled = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (v) => v,
    (err: unknown) => err,
  );

/**
 * What the relay read in clear on connections opened after the reset, other than a StartTLS request
 * as a connection's first message, and any of them that carries `text`.
 */
function leakedAfterReset(relay: Interceptor, text: string): string[] {
  return relay.flows().flatMap((f, i) => {
    if (f.epoch === 0) return [];
    const ops = clearOperations(f.sent).filter((op, at) => !(at === 0 && op === 'starttls'));
    const carries = f.sent.includes(Buffer.from(text)) ? [`connection ${i}: "${text}" in clear`] : [];
    return [...ops.map((op) => `connection ${i}: LDAP operation ${op} in clear`), ...carries];
  });
}

beforeAll(async () => {
  await new DirectoryFixture({
    ...env.ldap,
    shape: { ...env.ldap.shape, project: PROJECT },
  }).ensureAdminGroup();
  for (let i = 0; i < 3; i++) open.push(await startInterceptor('plain', env.ldap.url));
});

afterAll(async () => {
  for (const i of open) await i.close();
});

/** What each connection opened after a reset showed in clear: only StartTLS, when it is right. */
const openedAfterReset = (relay: Interceptor): string[][] =>
  relay
    .flows()
    .filter((f) => f.epoch > 0)
    .map((f) => clearOperations(f.sent));

describe('an LDAP connection reset on the path is not reopened in clear', () => {
  it('a client whose StartTLS connection was reset sends nothing more', async () => {
    const relay = open[0]!;
    const tls = tlsOptionsFor(relay.url, ca);
    const client = ldapClient(relay.url, 'starttls', tls, 1_000);
    const marker = `reconnect-${process.pid}`;
    const search = (): Promise<unknown> =>
      client.search(dn.toolsOu(env.ldap.shape), { filter: `(cn=${marker})`, attributes: ['cn'] });
    try {
      await client.startTLS(tls);
      await client.bind(env.ldap.serviceDn, password);
      await search();
      expect(relay.flows().map((f) => clearOperations(f.sent))).toEqual([['starttls']]);

      relay.reset();
      // The client says it is not connected once its socket emitted the close (by itself ldapts
      // would not notice after StartTLS: see the last test); until then a search on it fails.
      await until(
        'the client to see its connection reset',
        async () => (await settled(search())) instanceof Error && !client.isConnected,
        10_000,
        10,
      );
      const after = await settled(search());

      expect(leakedAfterReset(relay, marker)).toEqual([]);
      expect(after).toBeInstanceOf(DirectoryError);
      expect(after).toMatchObject({ reason: 'connection-closed' });
      // Refused before anything was opened: no connection at all after the reset.
      expect(relay.flows().filter((f) => f.epoch > 0)).toEqual([]);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  });

  it('a look whose kept connection is reset mid-look goes on over a new StartTLS connection', async () => {
    const relay = open[1]!;
    const input = scenarioInput(env, PROJECT);
    input.ldap = { ...input.ldap, servers: [relay.url] };
    const settings = parseConfig('reconnect test', input);
    const directory = new LdapDirectory(directoryOptions(settings, fixed(password), fixed(ca)));
    try {
      // The first look opens the kept connection: StartTLS, bind, the look's searches.
      await directory.changes(new Date());
      expect(relay.flows().map((f) => clearOperations(f.sent))).toEqual([['starttls']]);

      // The reset comes right after the answer to the next look's first search reached the client.
      relay.resetAfterNextAnswer();
      const look = await settled(directory.changes(new Date()));

      expect(leakedAfterReset(relay, `${PROJECT}.`)).toEqual([]);
      expect(look).toEqual(expect.any(Array));
      expect(openedAfterReset(relay)).toEqual([['starttls']]);
    } finally {
      await directory.close();
    }
  });
});

// ldapts 9.2 listens for the end of a connection on the plain socket only; after StartTLS its state
// is kept for the TLS socket over it, so a client whose StartTLS connection ended still says it is
// connected and bound, and the next operation on it is written to a closed socket and waits out the
// look's timeout before the look tries a new connection: every slapd restart or idle close would hold
// up new tools and locks by that long.
describe('a kept StartTLS connection that ended is noticed at once', () => {
  it('a look after the kept connection was reset sends nothing on it and does not wait out a timeout', async () => {
    const relay = open[2]!;
    const input = scenarioInput(env, PROJECT);
    input.ldap = { ...input.ldap, servers: [relay.url] };
    const settings = parseConfig('reconnect test', input);
    const directory = new LdapDirectory(directoryOptions(settings, fixed(password), fixed(ca)));
    // Every search the directory makes, with its outcome. A look retries once on a new connection
    // and hides the failure it retried after, so the look's answer alone cannot tell the timeout
    // path from the direct one; a search that failed can, and without measuring any time.
    const searches = jest.spyOn(Client.prototype, 'search');
    try {
      await directory.changes(new Date());
      expect(relay.flows().map((f) => clearOperations(f.sent))).toEqual([['starttls']]);
      const kept = searches.mock.contexts[0] as Client;
      const looked = searches.mock.results.length;

      relay.reset();
      // The next look starts only once the kept connection's socket has emitted its close (ldapts's
      // own socket, read because its notice of the close is what is under test): a look that starts
      // earlier is the mid-look case of the test above.
      const socket = (): { closed?: boolean } | undefined => Reflect.get(kept, 'socket') as never;
      await until('the kept connection to have closed', () => socket()?.closed === true, 10_000, 10);
      const look = await settled(directory.changes(new Date()));

      const outcomes = await Promise.allSettled(
        searches.mock.results.slice(looked).map((r) => r.value as Promise<unknown>),
      );
      const failed = outcomes.flatMap((o) =>
        o.status === 'rejected' ? [o.reason instanceof Error ? o.reason.message : String(o.reason)] : [],
      );
      // On the old connection nothing was tried (no search failed, by a timeout or otherwise): the
      // look went to one new connection, StartTLS first, and answered.
      expect(failed).toEqual([]);
      expect(look).toEqual(expect.any(Array));
      expect(openedAfterReset(relay)).toEqual([['starttls']]);
    } finally {
      searches.mockRestore();
      await directory.close();
    }
  });
});
