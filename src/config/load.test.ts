import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseConfig, readSecret } from './load.ts';

const minimal = {
  ldap: {
    servers: ['ldap://127.0.0.1:389'],
    bindDn: 'cn=x',
    bindPassword: { env: 'PW' },
    baseDn: 'dc=x',
    project: 'tools',
  },
  homes: { root: '/data/project' },
};

describe('parseConfig', () => {
  it('fills every default and derives the DNs', () => {
    const s = parseConfig('t', minimal);
    expect(s.ldap.toolsBase).toBe('ou=people,ou=servicegroups,dc=x');
    expect(s.ldap.adminGroupDn).toBe('cn=tools.admin,ou=servicegroups,dc=x');
    expect(s.certificates).toMatchObject({ keyType: 'ecdsa-p256', lifetimeSeconds: 2_592_000 });
    expect(s.removalGuard).toEqual({ maxFraction: 0.05, minCount: 10 });
    expect(s.sync.renewalCron).toBe('*/10 * * * *');
  });

  const bad: [string, unknown, RegExp][] = [
    [
      'an inline password',
      { ...minimal, ldap: { ...minimal.ldap, bindPassword: 'hunter2' } },
      /ldap\.bindPassword/,
    ],
    [
      'both file and env',
      { ...minimal, ldap: { ...minimal.ldap, bindPassword: { env: 'A', file: '/b' } } },
      /exactly one/,
    ],
    ['an unknown key', { ...minimal, colour: 'blue' }, /Unrecognized key: "colour"/],
    ['a relative homes root', { ...minimal, homes: { root: 'data' } }, /homes\.root/],
    [
      'a lifetime under the API minimum',
      { ...minimal, certificates: { lifetimeSeconds: 60 } },
      /certificates\.lifetimeSeconds/,
    ],
    ['an unknown key type', { ...minimal, certificates: { keyType: 'dsa' } }, /certificates\.keyType/],
    [
      'a host path with a comma (the namespace annotation is a comma-separated list)',
      { ...minimal, podIdentity: { allowedHostPaths: ['/data/a,b'] } },
      /podIdentity\.allowedHostPaths/,
    ],
    ['nothing at all', undefined, /ldap/],
  ];
  it.each(bad)('rejects %s with a message naming the key', (_, value, message) => {
    expect(() => parseConfig('kubeusers.yaml', value)).toThrow(ConfigError);
    expect(() => parseConfig('kubeusers.yaml', value)).toThrow(message);
  });

  it('never echoes a secret value in its error', () => {
    expect(() =>
      parseConfig('k', { ...minimal, ldap: { ...minimal.ldap, bindPassword: 'hunter2' } }),
    ).not.toThrow(/hunter2/);
  });
});

describe('readSecret', () => {
  it('reads the environment', async () =>
    expect(await readSecret({ env: 'PW' }, { PW: 's3cret' })).toBe('s3cret'));
  it('names a missing variable, not a value', async () => {
    await expect(readSecret({ env: 'PW' }, {})).rejects.toThrow('environment variable PW is not set');
  });
  it('names an unreadable file', async () => {
    await expect(readSecret({ file: '/nonexistent/pw' })).rejects.toThrow(
      'cannot read secret file /nonexistent/pw: ENOENT',
    );
  });
});
