import { describe, expect, it } from '@jest/globals';
import { fromKubeconfig, inCluster, KubeconfigError, type Files } from './kubeconfig.ts';

/** A file system of our own: path -> content, with an mtime a test can move. */
function files(entries: Record<string, string>): Files & { set(path: string, text: string): void } {
  const content = new Map(Object.entries(entries));
  const mtime = new Map<string, number>();
  return {
    read: (path) => {
      const text = content.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return Buffer.from(text);
    },
    mtimeMs: (path) => mtime.get(path) ?? 0,
    set(path, text) {
      content.set(path, text);
      mtime.set(path, (mtime.get(path) ?? 0) + 1);
    },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    clusters: [
      { name: 'other', cluster: { server: 'https://wrong:1' } },
      {
        name: 'k',
        cluster: { server: 'https://k8s.example:6443/', 'certificate-authority-data': b64('CA'), ...cluster },
      },
    ],
    users: [{ name: 'u', user }],
  });
}

const load = (text: string, fs = files({})) => fromKubeconfig(text, '/etc/kube/config', fs);

describe('fromKubeconfig: the auth forms kubeusers speaks itself', () => {
  const fs = files({
    '/etc/kube/crt.pem': 'CERT',
    '/etc/kube/key.pem': 'KEY',
    '/abs/ca.pem': 'CA2',
    '/etc/kube/tok': 'T2\n',
  });
  const cases: [string, Record<string, unknown>, Record<string, unknown>, object, Record<string, string>][] =
    [
      [
        'client certificate and key, inline',
        { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        {},
        { ca: 'CA', cert: 'CERT', key: 'KEY' },
        {},
      ],
      [
        'client certificate and key as files, relative to the kubeconfig; CA as an absolute file',
        { 'client-certificate': 'crt.pem', 'client-key': 'key.pem' },
        { 'certificate-authority': '/abs/ca.pem', 'certificate-authority-data': undefined },
        { ca: 'CA2', cert: 'CERT', key: 'KEY' },
        {},
      ],
      ['a bearer token', { token: 'T1' }, {}, { ca: 'CA' }, { authorization: 'Bearer T1' }],
      ['a token file, trimmed', { tokenFile: 'tok' }, {}, { ca: 'CA' }, { authorization: 'Bearer T2' }],
      [
        'tls-server-name checks the certificate for that name',
        { token: 'T1' },
        { 'tls-server-name': 'kubernetes.default' },
        { ca: 'CA', servername: 'kubernetes.default' },
        { authorization: 'Bearer T1' },
      ],
    ];
  it.each(cases)('%s', async (_, user, cluster, tls, headers) => {
    const got = load(kubeconfig(user, cluster), fs);
    if (got.form !== 'native') throw new Error(`expected native, got ${got.form}`);
    expect(got.access.server).toBe('https://k8s.example:6443');
    const seen = Object.fromEntries(
      Object.entries(got.access.tls).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : v]),
    );
    expect(seen).toEqual(tls);
    expect(await got.access.headers()).toEqual(headers);
    expect(got.warnings).toEqual([]);
  });

  it('never turns verification off unless the kubeconfig says so, and then says it', () => {
    const on = load(kubeconfig({ token: 'x' }));
    if (on.form !== 'native') throw new Error('native');
    expect('rejectUnauthorized' in on.access.tls).toBe(false);
    const off = load(
      kubeconfig(
        { token: 'x' },
        { 'insecure-skip-tls-verify': true, 'certificate-authority-data': undefined },
      ),
    );
    if (off.form !== 'native') throw new Error('native');
    expect(off.access.tls.rejectUnauthorized).toBe(false);
    expect(off.warnings.join(' ')).toMatch(/insecure-skip-tls-verify/);
  });
});

describe('fromKubeconfig: anything else goes to client-node', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['exec', { exec: { command: 'get-token', apiVersion: 'client.authentication.k8s.io/v1' } }, {}],
    ['auth-provider', { 'auth-provider': { name: 'oidc' } }, {}],
    ['basic auth', { username: 'a', password: 'b' }, {}],
    ['a proxy', { token: 'x' }, { 'proxy-url': 'http://proxy:3128' }],
    ['impersonation (as), which client-node sends as Impersonate-User', { token: 'x', as: 'low' }, {}],
  ];
  it.each(cases)('%s', (_, user, cluster) => {
    expect(load(kubeconfig(user, cluster)).form).toBe('client-node');
  });
});

describe('fromKubeconfig: errors', () => {
  const cases: [string, string, string][] = [
    ['no current context', JSON.stringify({ contexts: [], clusters: [], users: [] }), 'no-current-context'],
    [
      'a current context that is not there',
      JSON.stringify({ 'current-context': 'x', contexts: [], clusters: [], users: [] }),
      'no-current-context',
    ],
    [
      'a context without its cluster',
      kubeconfig({ token: 'x' }).replace('"cluster":"k"', '"cluster":"gone"'),
      'no-cluster',
    ],
    [
      'a cluster without a server',
      kubeconfig({ token: 'x' }, { server: undefined }).replace(',"server":"https://k8s.example:6443/"', ''),
      'no-cluster',
    ],
    ['not YAML', ': : :\n\t-', 'invalid'],
    [
      'a certificate file that is missing',
      kubeconfig({ 'client-certificate': 'gone.pem', 'client-key': 'k' }),
      'missing-file',
    ],
  ];
  it.each(cases)('%s', (_, text, reason) => {
    let err: unknown;
    try {
      load(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeconfigError);
    expect((err as KubeconfigError).reason).toBe(reason);
  });
});

describe('inCluster', () => {
  const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
  it('takes the service host, CA and projected token, and reads the token again when it rotates', async () => {
    const fs = files({ [`${dir}/token`]: 'first', [`${dir}/ca.crt`]: 'CA' });
    let now = 0;
    const access = inCluster({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, fs, {
      now: () => new Date(now),
    });
    expect(access.server).toBe('https://10.0.0.1:443');
    expect(access.tls.ca?.toString()).toBe('CA');
    expect(await access.headers()).toEqual({ authorization: 'Bearer first' });
    fs.set(`${dir}/token`, 'second');
    now += 5_000;
    expect(await access.headers()).toEqual({ authorization: 'Bearer second' });
  });

  it('puts an IPv6 host in brackets', () => {
    const fs = files({ [`${dir}/token`]: 't', [`${dir}/ca.crt`]: 'CA' });
    expect(
      inCluster({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, fs).server,
    ).toBe('https://[fd00::1]:6443');
  });

  it('outside a cluster: a KubeconfigError that says so', () => {
    let err: unknown;
    try {
      inCluster({}, files({}));
    } catch (e) {
      err = e;
    }
    expect((err as KubeconfigError).reason).toBe('not-in-cluster');
  });
});

/** The KubeconfigError a load throws, or undefined. */
function refusal(text: string, fs = files({})): KubeconfigError | undefined {
  try {
    load(text, fs);
  } catch (e) {
    if (e instanceof KubeconfigError) return e;
    throw e;
  }
  return undefined;
}

describe('fromKubeconfig: what neither kubeusers nor client-node applies is refused, never dropped', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>, string][] = [
    ['as-groups', { token: 'x', 'as-groups': ['s3cr3t-group'] }, {}, 'as-groups'],
    ['as-uid', { token: 'x', 'as-uid': 's3cr3t-uid' }, {}, 'as-uid'],
    ['as-user-extra', { token: 'x', 'as-user-extra': { k: ['s3cr3t'] } }, {}, 'as-user-extra'],
    ['as with as-groups', { token: 'x', as: 'low', 'as-groups': ['s3cr3t-group'] }, {}, 'as-groups'],
    ['an unknown user key', { token: 'x', 'impersonate-me': 's3cr3t' }, {}, 'impersonate-me'],
    [
      'an unknown cluster key',
      { token: 'x' },
      { 'certificate-authority-date': 's3cr3t' },
      'certificate-authority-date',
    ],
  ];
  it.each(cases)('%s', (_, user, cluster, key) => {
    const err = refusal(kubeconfig(user, cluster));
    expect(err?.reason).toBe('unsupported-key');
    expect(err?.message).toContain(key);
    expect(err?.message).not.toContain('s3cr3t');
  });
});

describe('fromKubeconfig: no empty bearer token', () => {
  it('an empty token file is an error with its reason', async () => {
    const got = load(kubeconfig({ tokenFile: 'tok' }), files({ '/etc/kube/tok': ' \n' }));
    if (got.form !== 'native') throw new Error('native');
    const err = await got.access.headers().catch((e: unknown) => e);
    expect((err as KubeconfigError).reason).toBe('empty-token');
  });

  it('an empty token is an error with its reason', () => {
    expect(refusal(kubeconfig({ token: '' }))?.reason).toBe('empty-token');
  });
});

describe('fromKubeconfig: insecure-skip-tls-verify with a CA is refused, as kubectl does', () => {
  it('with certificate-authority-data', () => {
    const err = refusal(kubeconfig({ token: 'x' }, { 'insecure-skip-tls-verify': true }));
    expect(err?.reason).toBe('insecure-with-ca');
  });
});

describe('inCluster: a token that cannot be read is never sent empty', () => {
  const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
  it('a failed first look, then a request within the second: refused again, not Bearer nothing', async () => {
    const fs = files({ [`${dir}/ca.crt`]: 'CA' });
    let now = 0;
    const access = inCluster({ KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '443' }, fs, {
      now: () => new Date(now),
    });
    const first = await Promise.resolve()
      .then(() => access.headers())
      .catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Error);
    now += 500;
    const second = await Promise.resolve()
      .then(() => access.headers())
      .catch((e: unknown) => e);
    expect(second).toBeInstanceOf(KubeconfigError);
    expect((second as KubeconfigError).reason).toBe('missing-file');
    fs.set(`${dir}/token`, 'late');
    expect(await access.headers()).toEqual({ authorization: 'Bearer late' });
  });
});
