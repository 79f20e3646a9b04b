// The worked gateway under test: the admin API (the real app, its credential reviews answered from a
// view of the accounts in memory), Debian's nginx with the shipped configuration in front of an echo
// backend, and the gateway's own client certificate bound to the shipped ClusterRole kubeusers-gateway.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { createApiApp } from '../../../src/api/app.ts';
import type { CacheView } from '../../../src/api/review-view.ts';
import { serveHttps } from '../../../src/api/server.ts';
import { apiDeps, clientCaPem } from '../../../src/api/wire.ts';
import { startEchoBackend, type EchoBackend } from '../../env/echo-backend.ts';
import { adminKubeConfig, testEnv } from '../../env/index.ts';
import { startGateway, type RunningGateway } from '../../env/nginx.ts';
import { clientPairFrom, servingPairFrom } from '../../env/pki.ts';
import type { Scenario } from '../support.ts';

export interface Tls {
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
  method?: string;
  /** Sent as application/json. */
  body?: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => unknown;
}

/** One request on a connection of its own (a certificate is presented once per handshake). */
export function httpsGet(url: string, ca: string, who: Tls): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca,
        agent: false,
        method: who.method ?? 'GET',
        ...(who.cert ? { cert: who.cert, key: who.key } : {}),
        headers: { ...(who.body ? { 'content-type': 'application/json' } : {}), ...who.headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: () => JSON.parse(text) as unknown,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(who.body);
  });
}

export interface Worked {
  api: { url: string; server: Server };
  gateway: RunningGateway;
  backend: EchoBackend;
  /** The CA every party here trusts: the cluster's. */
  caPem: string;
  /** The gateway's own client certificate (bound to kubeusers-gateway). */
  gatewayCert: { cert: string; key: string };
  stop: () => Promise<void>;
}

/** Binds `user` to the shipped ClusterRole kubeusers-gateway, as an operator does once. */
async function bindGateway(user: string): Promise<void> {
  const rbac = adminKubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.deleteClusterRoleBinding({ name: user }).catch(() => undefined);
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: user },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubeusers-gateway' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    },
  });
}

export async function startWorkedGateway(s: Scenario, view: CacheView, reviewCache: string): Promise<Worked> {
  const env = testEnv();
  const caPem = readFileSync(env.kube.caFile, 'utf8');
  const caKey = readFileSync(env.kube.caKeyFile, 'utf8');
  const dir = mkdtempSync(join(env.dir, 'gateway-'));
  const file = (name: string, text: string, mode = 0o644): string => {
    writeFileSync(join(dir, name), text, { mode });
    return join(dir, name);
  };
  const apiPair = await servingPairFrom(caPem, caKey, ['127.0.0.1'], ['localhost']);
  // Answers about callers kept for an hour, so that what a review itself costs is all that is left to
  // count in the audit log (by default: one SAR per 10 s and one ledger read per 2 s per caller).
  const api = s.app.settings.api;
  const settings = {
    ...s.app.settings,
    api: {
      ...api,
      requestsPerMinute: 100_000,
      reviews: { ...api.reviews, cacheSeconds: 3600, negativeCacheSeconds: 3600 },
    },
  };
  const server = await serveHttps(
    createApiApp(apiDeps({ ...s.app, settings }, undefined, { view })),
    {
      certFile: file('api.crt', apiPair.cert),
      keyFile: file('api.key', apiPair.key, 0o600),
      clientCaPem: await clientCaPem(s.app),
    },
    0,
    '127.0.0.1',
  );
  const port = (server.address() as AddressInfo).port;
  const user = `${s.project}-gateway`;
  await bindGateway(user);
  const gatewayCert = await clientPairFrom(caPem, caKey, `CN=${user}`);
  const nginxPair = await servingPairFrom(caPem, caKey, ['127.0.0.1'], ['localhost'], 'CN=gateway');
  const backend = await startEchoBackend();
  const gateway = await startGateway({
    dir,
    serverCertFile: file('nginx.crt', nginxPair.cert),
    serverKeyFile: file('nginx.key', nginxPair.key, 0o600),
    clusterCaFile: env.kube.caFile,
    api: { hostPort: `127.0.0.1:${port}`, name: 'localhost', caFile: env.kube.caFile },
    gatewayCertFile: file('gateway.crt', gatewayCert.cert),
    gatewayKeyFile: file('gateway.key', gatewayCert.key, 0o600),
    reviewCache,
    backend: backend.url,
  });
  return {
    api: { url: `https://127.0.0.1:${port}`, server },
    gateway,
    backend,
    caPem,
    gatewayCert,
    stop: async () => {
      await gateway.stop();
      await backend.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
