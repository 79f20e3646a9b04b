// A connection to the directory reset on the network path (a server restart, an idle timeout, or an
// attacker injecting a TCP RST) must not be reopened by the LDAP client behind kubeusers' back:
// ldapts reopens a closed socket by itself before the next operation, in plaintext on an ldap://
// URL, without StartTLS and without a bind, so that operation's filter (project name, admin uids,
// timestamps) would go out in clear to whoever reset the connection. The attacker here is a
// transparent relay (test/env/interceptor.ts, `plain`): StartTLS is negotiated end to end with the
// real slapd, and the relay keeps what it could read and resets every connection when told.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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
  for (let i = 0; i < 2; i++) open.push(await startInterceptor('plain', env.ldap.url));
});

afterAll(async () => {
  for (const i of open) await i.close();
});

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
      // ldapts notices that a StartTLS connection ended only when an operation on it times out (it
      // listens on the plain socket under the TLS one): until then a search on it fails, at once or
      // at its timeout, and the client still says it is connected.
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
      expect(
        relay
          .flows()
          .filter((f) => f.epoch > 0)
          .map((f) => clearOperations(f.sent)),
      ).toEqual([['starttls']]);
    } finally {
      await directory.close();
    }
  });
});
