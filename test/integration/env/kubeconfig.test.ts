// kubeusers' own kubeconfig loader and transport (ADR 26) against the real kube-apiserver: each form it
// speaks, TLS that refuses a server it cannot verify, and an exec plugin through client-node.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { makeClients } from '../../../src/cluster/client.ts';
import { statusOf } from '../../../src/cluster/errors.ts';
import { loadKubeAccess } from '../../../src/cluster/kubeconfig.ts';
import { TokenBucket } from '../../../src/cluster/rate-limit.ts';
import { writeApiServingPair } from '../../env/daemon-config.ts';
import { testEnv } from '../../env/index.ts';

const env = testEnv();
type Doc = {
  clusters: { cluster: Record<string, unknown> }[];
  users: { user: Record<string, string> }[];
};
const admin = JSON.parse(readFileSync(env.kube.adminKubeconfig, 'utf8')) as Doc;
const scratch = mkdtempSync(join(tmpdir(), 'kubeusers-kubeconfig-test-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** The admin kubeconfig with its cluster and user changed as given, written to a file of its own. */
function variant(cluster: Record<string, unknown>, user?: Record<string, unknown>): string {
  const doc = structuredClone(admin);
  Object.assign(doc.clusters[0]!.cluster, cluster);
  if (user) doc.users[0]!.user = user as Record<string, string>;
  const file = join(scratch, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
  return file;
}

async function readDefault(file: string): Promise<string | undefined> {
  const access = await loadKubeAccess(file);
  const clients = makeClients(access, new TokenBucket(100, 100), { userAgent: 'kubeusers-kubeconfig-test' });
  return (await clients.core.readNamespace({ name: 'default' })).metadata?.name;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

describe('kubeusers speaks to the real API server itself', () => {
  it('with the client certificate and CA of a kubeconfig', async () => {
    expect(await readDefault(env.kube.adminKubeconfig)).toBe('default');
  });

  it('with the CA as a file', async () => {
    const file = variant({
      'certificate-authority-data': undefined,
      'certificate-authority': env.kube.caFile,
    });
    expect(await readDefault(file)).toBe('default');
  });

  it('an error status is classified by its code', async () => {
    const access = await loadKubeAccess(env.kube.adminKubeconfig);
    const clients = makeClients(access, new TokenBucket(100, 100), {
      userAgent: 'kubeusers-kubeconfig-test',
    });
    const err = await clients.core.readNamespace({ name: 'no-such-namespace' }).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(404);
  });
});

describe('TLS refuses an API server it cannot verify (a man in the middle)', () => {
  it('a server certificate from another CA', async () => {
    const file = variant({ 'certificate-authority-data': b64(readFileSync(env.ldap.caFile)) });
    const err = await readDefault(file).catch((e: unknown) => e);
    expect(statusOf(err)).toBeUndefined();
    expect((err as { code?: string }).code).toMatch(/CERT|VERIFY|SIGN/);
  });

  it('a server certificate not issued for the name tls-server-name expects', async () => {
    const file = variant({ 'tls-server-name': 'not-the-apiserver.example' });
    const err = await readDefault(file).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});

describe('an auth form kubeusers leaves to client-node', () => {
  it('an exec plugin giving a client certificate works', async () => {
    const user = admin.users[0]!.user;
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: {
        clientCertificateData: Buffer.from(user['client-certificate-data']!, 'base64').toString('utf8'),
        clientKeyData: Buffer.from(user['client-key-data']!, 'base64').toString('utf8'),
      },
    };
    const out = join(scratch, 'credential.json');
    writeFileSync(out, JSON.stringify(credential), { mode: 0o600 });
    const file = variant(
      {},
      {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: 'cat',
          args: [out],
          interactiveMode: 'Never',
        },
      },
    );
    expect(await readDefault(file)).toBe('default');
  });
});

describe('impersonation in the kubeconfig is applied, never dropped', () => {
  it('as: the request is made as that user (who may not read the namespace)', async () => {
    const file = variant({}, { ...admin.users[0]!.user, as: 'kubeusers-test-nobody' });
    const err = await readDefault(file).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(403);
  });
});

/**
 * A server in front of the API server (a proxy, a load balancer), with a certificate the kubeconfig's CA
 * trusts: what it does to a request is the test's. `raw()` is the TCP connection last accepted (to reset).
 */
async function inFront(
  handle: Parameters<typeof createServer>[1],
): Promise<{ server: { close(): Promise<void> }; file: string; raw: () => Socket | undefined }> {
  const { certFile, keyFile } = await writeApiServingPair(env, scratch);
  const tls = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handle);
  let last: Socket | undefined;
  const sockets = new Set<Socket>();
  const tcp = createTcpServer((socket) => {
    last = socket;
    sockets.add(socket);
    tls.emit('connection', socket);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const { port } = tcp.address() as AddressInfo;
  const close = (): Promise<void> => {
    for (const s of sockets) s.destroy();
    tls.close();
    return new Promise((resolve) => tcp.close(() => resolve()));
  };
  return { server: { close }, file: variant({ server: `https://127.0.0.1:${port}` }), raw: () => last };
}

const closed = (server: { close(): Promise<void> }): Promise<void> => server.close();

describe('a request reset on a reused connection', () => {
  const cases: [string, 'GET' | 'POST', number, boolean][] = [
    ['a GET is sent again', 'GET', 2, true],
    ['a POST is not (the server may have acted on it)', 'POST', 1, false],
  ];
  it.each(cases)('%s', async (_, method, arrivals, ok) => {
    let seen = 0;
    const front = await inFront((req, res) => {
      if (req.url === '/warm') return void res.end('{}');
      seen += 1;
      req.resume();
      if (seen === 1) return void front.raw()?.resetAndDestroy();
      res.end('{"kind":"ConfigMap"}');
    });
    const { server, file } = front;
    try {
      const access = await loadKubeAccess(file);
      const clients = makeClients(access, new TokenBucket(100, 100), { userAgent: 'kubeusers-test' });
      await clients.getJson('/warm');
      const second =
        method === 'GET'
          ? clients.getJson('/api/v1/namespaces/a/configmaps/b')
          : clients.core.createNamespacedConfigMap({ namespace: 'a', body: {} });
      const result = await second.then(
        () => true,
        () => false,
      );
      expect({ seen, ok: result }).toEqual({ seen: arrivals, ok });
    } finally {
      await closed(server);
    }
  });
});

describe('a watch on a connection that went silent ends, so the cache lists again', () => {
  const limits = { headMs: 1_000, marginMs: 1_000 };

  it('no response head: the watch fails within its limit', async () => {
    const { server, file } = await inFront(() => undefined);
    try {
      const access = await loadKubeAccess(file);
      const clients = makeClients(access, new TokenBucket(100, 100), {
        userAgent: 'kubeusers-test',
        watchLimits: limits,
      });
      const err = await clients
        .stream('/api/v1/namespaces?watch=1&timeoutSeconds=1', new AbortController().signal)
        .catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('ETIMEDOUT');
    } finally {
      await closed(server);
    }
  }, 10_000);

  it('one event, then silence past timeoutSeconds: the body fails', async () => {
    const { server, file } = await inFront((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"1"}}}\n');
    });
    try {
      const access = await loadKubeAccess(file);
      const clients = makeClients(access, new TokenBucket(100, 100), {
        userAgent: 'kubeusers-test',
        watchLimits: limits,
      });
      const res = await clients.stream(
        '/api/v1/namespaces?watch=1&timeoutSeconds=1',
        new AbortController().signal,
      );
      const reader = res.body!.getReader();
      const read = async (): Promise<void> => {
        for (;;) if ((await reader.read()).done) return;
      };
      const err = await read().catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('ETIMEDOUT');
    } finally {
      await closed(server);
    }
  }, 10_000);
});
