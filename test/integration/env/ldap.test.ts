import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { Client } from 'ldapts';
import { directory, dn, testEnv } from '../../env/index.ts';
import { BULK_PROJECT, BULK_TOOLS } from '../../env/global-setup.ts';

const env = testEnv();
const shape = env.ldap.shape;
const fixture = directory(env);

async function asService<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ url: env.ldap.url, timeout: 10_000 });
  try {
    await client.bind(env.ldap.serviceDn, readFileSync(env.ldap.servicePasswordFile, 'utf8'));
    return await fn(client);
  } finally {
    await client.unbind();
  }
}

/** ldapts reports an attribute that was asked for but is not there as an empty list. */
const absent = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.length === 0);

async function entry(target: string, attributes: string[]): Promise<Record<string, unknown> | undefined> {
  return asService(async (c) => {
    const { searchEntries } = await c.search(target, { scope: 'base', attributes });
    return searchEntries[0];
  });
}

describe('the LDAP directory (real slapd)', () => {
  const suffix = `l${process.pid}`;

  it('pages through the 1,000 generated tools as the service account', async () => {
    const filter = `(&(objectClass=posixAccount)(cn=${BULK_PROJECT}.*))`;
    const paged = await asService((c) =>
      c.search(dn.toolsOu(shape), { filter, paged: { pageSize: 200 }, attributes: ['cn', 'uidNumber'] }),
    );
    expect(paged.searchEntries).toHaveLength(BULK_TOOLS);
    expect(new Set(paged.searchEntries.map((e) => e.uidNumber)).size).toBe(BULK_TOOLS);
    // Unpaged, the server stops at its size limit of 500, as production does.
    // (result code 4, sizeLimitExceeded)
    await expect(asService((c) => c.search(dn.toolsOu(shape), { filter }))).rejects.toMatchObject({
      code: 4,
    });
  });

  it('shows pwdAccountLockedTime for a locked account only when asked by name', async () => {
    const locked = await fixture.addTool({ name: `locked-${suffix}`, uidNumber: 70_001, locked: 'disabled' });
    const open = await fixture.addTool({ name: `open-${suffix}`, uidNumber: 70_002 });
    const byName = await entry(locked, ['cn', 'pwdAccountLockedTime', 'pwdPolicySubentry']);
    expect(byName?.pwdAccountLockedTime).toMatch(/^\d{14}Z$/);
    expect(byName?.pwdPolicySubentry).toBe(dn.disabledPolicy(shape));
    const allUser = await entry(locked, ['*']);
    expect(absent(allUser?.pwdAccountLockedTime)).toBe(true);
    const unlocked = await entry(open, ['cn', 'pwdAccountLockedTime']);
    expect(unlocked?.cn).toBe(`tools.open-${suffix}`);
    expect(absent(unlocked?.pwdAccountLockedTime)).toBe(true);
  });

  const changes: [
    string,
    (name: string, target: string) => Promise<void>,
    (e?: Record<string, unknown>) => void,
  ][] = [
    ['lock', (_, t) => fixture.lock(t), (e) => expect(e?.pwdAccountLockedTime).toBeDefined()],
    [
      'mark for deletion',
      (_, t) => fixture.lock(t, 'marked-for-deletion'),
      (e) => expect(e?.pwdAccountLockedTime).toBe('000001010000Z'),
    ],
    [
      'unlock',
      async (_, t) => {
        await fixture.lock(t);
        await fixture.unlock(t);
      },
      (e) => {
        expect(e).toBeDefined();
        expect(absent(e?.pwdAccountLockedTime)).toBe(true);
      },
    ],
    ['delete', (name) => fixture.deleteTool(name), (e) => expect(e).toBeUndefined()],
  ];
  it.each(changes)('changes a tool over LDAP: %s', async (label, change, check) => {
    const name = `c-${label.replace(/ /g, '-')}-${suffix}`;
    const target = await fixture.addTool({ name, uidNumber: 70_100 });
    await change(name, target);
    const found = await entry(target, ['cn', 'pwdAccountLockedTime']).catch(() => undefined);
    check(found);
  });

  const ca = readFileSync(env.ldap.caFile, 'utf8');
  const transports: [string, string, boolean, string | undefined, boolean][] = [
    ['ldaps:// with its CA', env.ldap.ldapsUrl, false, ca, true],
    ['StartTLS with its CA', env.ldap.url, true, ca, true],
    ["ldaps:// trusting only Node's built-in CAs", env.ldap.ldapsUrl, false, undefined, false],
    ["StartTLS trusting only Node's built-in CAs", env.ldap.url, true, undefined, false],
  ];
  it.each(transports)('speaks TLS: %s', async (_, url, startTls, trusted, works) => {
    const tls = { ...(trusted ? { ca: trusted } : {}), host: '127.0.0.1', rejectUnauthorized: true };
    const client = new Client({ url, timeout: 10_000, ...(startTls ? {} : { tlsOptions: tls }) });
    const bind = async () => {
      if (startTls) await client.startTLS(tls);
      await client.bind(env.ldap.serviceDn, readFileSync(env.ldap.servicePasswordFile, 'utf8'));
      return 'bound';
    };
    try {
      if (works) await expect(bind()).resolves.toBe('bound');
      else await expect(bind()).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    } finally {
      await client.unbind().catch(() => undefined);
    }
  });

  it('adds a user to the admin group and removes them', async () => {
    const user = `admin-${suffix}`;
    const userDn = await fixture.addUser({ user, uidNumber: 71_000 });
    const members = async () => {
      const group = await entry(dn.adminGroup(shape), ['member']);
      return ([] as unknown[]).concat(group?.member ?? []);
    };
    await fixture.addToAdminGroup(user);
    expect(await members()).toContain(userDn);
    await fixture.removeFromAdminGroup(user);
    expect(await members()).not.toContain(userDn);
  });
});
