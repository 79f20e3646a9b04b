import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x509 } from '../pki/crypto.ts';
import { generateKey, signingAlgorithm } from '../pki/keys.ts';
import { ConfigError, parseConfig, readCaBundle, readSecret, secretFromText } from './load.ts';

const minimal = {
  ldap: {
    servers: ['ldaps://127.0.0.1:636'],
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
    [
      'plaintext LDAP without allowPlaintext',
      { ...minimal, ldap: { ...minimal.ldap, servers: ['ldap://127.0.0.1:389'] } },
      /ldap\.allowPlaintext: ldap:\/\/127\.0\.0\.1:389 would carry the bind password/,
    ],
    [
      'one plaintext server among ldaps ones',
      { ...minimal, ldap: { ...minimal.ldap, servers: ['ldaps://a:636', 'ldap://b:389'] } },
      /ldap\.allowPlaintext: ldap:\/\/b:389 /,
    ],
    [
      'a URL that is not LDAP',
      { ...minimal, ldap: { ...minimal.ldap, servers: ['https://ldap.example.org'] } },
      /ldap\.servers\.0: must be an ldap:\/\/ or ldaps:\/\/ URL/,
    ],
    [
      'credentials in a URL',
      { ...minimal, ldap: { ...minimal.ldap, servers: ['ldaps://cn=x:hunter2@ldap.example.org'] } },
      /ldap\.servers\.0: no credentials in the URL/,
    ],
    [
      'an insecure-skip option',
      { ...minimal, ldap: { ...minimal.ldap, startTls: true, rejectUnauthorized: false } },
      /Unrecognized key: "rejectUnauthorized"/,
    ],
    [
      'an empty namespace prefix (a tool named default would map onto default)',
      { ...minimal, kubernetes: { namespacePrefix: '' } },
      /kubernetes\.namespacePrefix: must be a DNS label prefix ending with "-"/,
    ],
    [
      "a prefix of the cluster's own namespaces",
      { ...minimal, kubernetes: { namespacePrefix: 'kube-' } },
      /kubernetes\.namespacePrefix: must not start with kube-/,
    ],
  ];
  it.each(bad)('rejects %s with a message naming the key', (_, value, message) => {
    expect(() => parseConfig('kubeusers.yaml', value)).toThrow(ConfigError);
    expect(() => parseConfig('kubeusers.yaml', value)).toThrow(message);
  });

  const transports: [string, Record<string, unknown>][] = [
    ['ldaps://', { servers: ['ldaps://ldap.example.org'] }],
    [
      'ldap:// with StartTLS and a CA',
      { servers: ['ldap://ldap.example.org'], startTls: true, caFile: '/etc/kubeusers/ldap/ca.crt' },
    ],
    ['ldap:// with allowPlaintext', { servers: ['ldap://ldap.example.org'], allowPlaintext: true }],
  ];
  it.each(transports)('accepts %s', (_, ldap) => {
    const s = parseConfig('t', { ...minimal, ldap: { ...minimal.ldap, ...ldap } });
    expect(s.ldap.servers).toHaveLength(1);
  });

  it("defaults to no StartTLS, no plaintext and Node's CAs", () => {
    const s = parseConfig('t', { ...minimal, ldap: { ...minimal.ldap, servers: ['ldaps://l'] } });
    expect(s.ldap).toMatchObject({ startTls: false, allowPlaintext: false });
    expect(s.ldap.caFile).toBeUndefined();
  });

  it('never echoes a secret value in its error', () => {
    expect(() =>
      parseConfig('k', { ...minimal, ldap: { ...minimal.ldap, bindPassword: 'hunter2' } }),
    ).not.toThrow(/hunter2/);
    expect(() =>
      parseConfig('k', {
        ...minimal,
        ldap: { ...minimal.ldap, servers: ['ldap://cn=x:hunter2@ldap.example.org'] },
      }),
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

describe('secretFromText', () => {
  const cases: [string, string, string | RegExp][] = [
    ['strips one trailing newline', 's3cret\n', 's3cret'],
    ['strips one trailing CRLF', 's3cret\r\n', 's3cret'],
    ['keeps inner whitespace', ' s3 cret ', ' s3 cret '],
    ['refuses an empty file (an anonymous bind)', '', /^secret file \/pw is empty$/],
    ['refuses a file holding only a newline', '\n', /^secret file \/pw is empty$/],
  ];
  it.each(cases)('%s', (_, text, want) => {
    if (typeof want === 'string') expect(secretFromText(text, '/pw')).toBe(want);
    else expect(() => secretFromText(text, '/pw')).toThrow(want);
  });
});

describe('readCaBundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubeusers-ca-'));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const selfSigned = async (cn: string): Promise<string> => {
    const keys = await generateKey('ecdsa-p256');
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: `CN=${cn}`,
      keys,
      signingAlgorithm: signingAlgorithm('ecdsa-p256'),
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    return cert.toString('pem');
  };
  // Base64 that decodes, but to no certificate.
  const BROKEN = '-----BEGIN CERTIFICATE-----\nMIIBfTCCASOgAwIBAgIU\n-----END CERTIFICATE-----\n';

  it('returns every certificate of a bundle, and nothing else of the file', async () => {
    const [a, b] = [await selfSigned('ca-a'), await selfSigned('ca-b')];
    const bundle = await readCaBundle(file('bundle.crt', `# our CAs\n${a}\n\n${b}\n`), 'ldap.caFile');
    expect(bundle).toBe(`${a.trim()}\n${b.trim()}`);
  });

  const bad: [string, () => string, RegExp][] = [
    ['a missing file', () => join(dir, 'nope.crt'), /^cannot read ldap\.caFile .*nope\.crt: ENOENT$/],
    ['a file without a certificate', () => file('empty.crt', 'hello\n'), /: no PEM certificate in it$/],
    [
      'a key instead',
      () => file('key.crt', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
      /no PEM certificate/,
    ],
    ['a block that does not parse', () => file('broken.crt', BROKEN), /certificate 1 of 1 does not parse/],
  ];
  it.each(bad)('refuses %s as a ConfigError naming the key', async (_, path, message) => {
    const p = path();
    await expect(readCaBundle(p, 'ldap.caFile')).rejects.toThrow(ConfigError);
    await expect(readCaBundle(p, 'ldap.caFile')).rejects.toThrow(message);
  });
});
