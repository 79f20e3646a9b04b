// The admin API under test: the real app, served over HTTPS on loopback, against the real cluster.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { Server } from 'node:https';
import { join } from 'node:path';
import { createApiApp } from '../../../src/api/app.ts';
import { serveHttps } from '../../../src/api/server.ts';
import { apiDeps, clientCaPem } from '../../../src/api/wire.ts';
import { servingPairFrom } from '../../env/pki.ts';
import { testEnv } from '../../env/index.ts';
import type { ClusterCache } from '../../../src/cluster/cache.ts';
import type { Scenario } from '../support.ts';

export interface Caller {
  cert?: string;
  key?: string;
  token?: string;
}

export interface Reply {
  status: number;
  type: string;
  body: unknown;
  text: string;
}

export interface RunningApi {
  url: string;
  server: Server;
  caPem: string;
  call(
    method: string,
    path: string,
    who: Caller,
    body?: string | Buffer | object,
    headers?: Record<string, string>,
  ): Promise<Reply>;
}

/** The API's settings for a test: the scenario's, with these keys replaced. */
export type ApiOverrides = Record<string, unknown>;

export async function startApi(
  s: Scenario,
  overrides: ApiOverrides = { requestsPerMinute: 100_000 },
  /** The cluster cache to answer from, as the daemon does (started by the test); else the cluster. */
  memory?: ClusterCache,
): Promise<RunningApi> {
  const env = testEnv();
  const caPem = readFileSync(env.kube.caFile, 'utf8');
  const pair = await servingPairFrom(
    caPem,
    readFileSync(env.kube.caKeyFile, 'utf8'),
    ['127.0.0.1'],
    ['localhost'],
  );
  const dir = mkdtempSync(join(env.dir, 'api-'));
  writeFileSync(join(dir, 'tls.crt'), pair.cert);
  writeFileSync(join(dir, 'tls.key'), pair.key, { mode: 0o600 });
  const settings = { ...s.app.settings, api: { ...s.app.settings.api, ...overrides } };
  const deps = apiDeps({ ...s.app, settings }, undefined, memory ? { memory } : {});
  const server = await serveHttps(
    createApiApp(deps),
    { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCaPem: await clientCaPem(s.app) },
    0,
    '127.0.0.1',
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `https://127.0.0.1:${port}`;
  const call: RunningApi['call'] = (method, path, who, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const payload =
        body === undefined || typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const req = request(
        `${url}${path}`,
        {
          method,
          ca: caPem,
          ...(who.cert ? { cert: who.cert, key: who.key } : {}),
          headers: {
            ...(who.token ? { authorization: `Bearer ${who.token}` } : {}),
            ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
            ...headers,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            let parsed: unknown = undefined;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON
            }
            resolve({
              status: res.statusCode ?? 0,
              type: String(res.headers['content-type'] ?? ''),
              body: parsed,
              text,
            });
          });
        },
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  return { url, server, caPem, call };
}

/** An account's credentials as they are in its home now. */
export function credentialsOf(home: string, dir = '.toolskube'): Caller {
  return {
    cert: readFileSync(join(home, dir, 'client.crt'), 'utf8'),
    key: readFileSync(join(home, dir, 'client.key'), 'utf8'),
  };
}

/** A copy of a home's kubeconfig and credentials, as a leaked copy would be. Returns its kubeconfig. */
export function snapshotHome(home: string, into: string): string {
  cpSync(join(home, '.kube'), join(into, '.kube'), { recursive: true });
  cpSync(join(home, '.toolskube'), join(into, '.toolskube'), { recursive: true });
  return join(into, '.kube', 'config');
}
