// kubeusers' own kubeconfig loader and transport (ADR 26) against the real kube-apiserver: each form it
// speaks, TLS that refuses a server it cannot verify, and an exec plugin through client-node.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { makeClients } from '../../../src/cluster/client.ts';
import { statusOf } from '../../../src/cluster/errors.ts';
import { loadKubeAccess } from '../../../src/cluster/kubeconfig.ts';
import { TokenBucket } from '../../../src/cluster/rate-limit.ts';
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
