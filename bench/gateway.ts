// Revocation → the gateway denies: Debian's nginx with the shipped configuration
// (deploy/gateway/kubeusers-gateway.conf, its 1 s positive cache included) in front of an echo
// backend, asking the daemon's credential reviews as a gateway identity bound to the shipped
// ClusterRole. Each repeat: a tool's certificate gets through, an admin revokes it through the API,
// and the time until nginx first refuses that certificate is taken. The gateway's helpers of test/env
// are loaded when they exist (issue 16), so that this file builds without them.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvInfo } from '../test/env/environment.ts';
import { kubectl } from '../test/env/index.ts';
import { pollFor, statusWith } from './credential.ts';
import { servingPairFrom } from '../test/env/pki.ts';
import { callApi, type ApiTarget } from '../src/cli/api-client.ts';
import { percentile, round } from './measure.ts';
import { skipped, type Scenario } from './scenario.ts';

const repo = join(import.meta.dirname, '..');
const NGINX_HELPER = join(repo, 'test', 'env', 'nginx.ts');
const ECHO_HELPER = join(repo, 'test', 'env', 'echo-backend.ts');
const PKI_HELPER = join(repo, 'test', 'env', 'pki.ts');
const ROLE = join(repo, 'deploy', 'base', 'clusterrole-gateway.yaml');
const GATEWAY_USER = 'bench-gateway';

interface NginxHelper {
  NGINX: string;
  startGateway(o: Record<string, unknown>): Promise<{ url: string; stop: () => Promise<void> }>;
}
interface EchoHelper {
  startEchoBackend(): Promise<{ url: string; close: () => Promise<void> }>;
}
interface PkiHelper {
  clientPairFrom(caPem: string, caKey: string, subject: string): Promise<{ cert: string; key: string }>;
}

export interface GatewayOptions {
  n: number;
  env: EnvInfo;
  apiPort: number;
  admin: ApiTarget;
  repeats: number;
  toolName: (i: number) => string;
}

async function gatewayIdentity(env: EnvInfo, pki: PkiHelper, dir: string): Promise<[string, string]> {
  const admin = env.kube.adminKubeconfig;
  if ((await kubectl(admin, ['apply', '--server-side', '-f', ROLE], env)).code !== 0)
    throw new Error('applying the gateway ClusterRole failed');
  await kubectl(
    admin,
    [
      'create',
      'clusterrolebinding',
      GATEWAY_USER,
      '--clusterrole=kubeusers-gateway',
      `--user=${GATEWAY_USER}`,
    ],
    env,
  );
  const caPem = readFileSync(env.kube.caFile, 'utf8');
  const pair = await pki.clientPairFrom(
    caPem,
    readFileSync(env.kube.caKeyFile, 'utf8'),
    `CN=${GATEWAY_USER}`,
  );
  writeFileSync(join(dir, 'gateway.crt'), pair.cert);
  writeFileSync(join(dir, 'gateway.key'), pair.key, { mode: 0o600 });
  return [join(dir, 'gateway.crt'), join(dir, 'gateway.key')];
}

async function deniedAfterRevoke(o: GatewayOptions, url: string, ca: string, tool: string): Promise<number> {
  const home = join(o.env.homesRoot, tool, '.toolskube');
  const cert = readFileSync(join(home, 'client.crt'), 'utf8');
  const key = readFileSync(join(home, 'client.key'), 'utf8');
  const before = await statusWith(url, ca, cert, key);
  if (before !== 200) throw new Error(`nginx answered ${before} to ${tool}'s valid certificate`);
  const started = performance.now();
  const r = await callApi(o.admin, 'POST', `/api/v1/accounts/${tool}/revoke`, {
    reason: 'benchmark',
    reissue: true,
  });
  if (r.status !== 200) throw new Error(`revoke answered ${r.status}`);
  const denied = await pollFor(
    `nginx refuses ${tool}'s revoked certificate`,
    () => statusWith(url, ca, cert, key),
    (status) => status !== 200 && status !== 0,
    30_000,
  );
  return (denied - started) / 1000;
}

export async function gatewayDenies(o: GatewayOptions): Promise<Scenario> {
  if (![NGINX_HELPER, ECHO_HELPER, ROLE].every((f) => existsSync(f)))
    return skipped(
      'gateway-deny',
      o.n,
      'no deploy/gateway, test/env/nginx.ts or the gateway ClusterRole in this build (issue 16)',
    );
  const nginx = (await import(NGINX_HELPER)) as NginxHelper;
  if (!existsSync(nginx.NGINX)) return skipped('gateway-deny', o.n, `${nginx.NGINX} is not installed`);
  const echo = (await import(ECHO_HELPER)) as EchoHelper;
  const pki = (await import(PKI_HELPER)) as PkiHelper;
  const dir = mkdtempSync(join(o.env.dir, 'bench-gateway-'));
  const ca = readFileSync(o.env.kube.caFile, 'utf8');
  const [gatewayCertFile, gatewayKeyFile] = await gatewayIdentity(o.env, pki, dir);
  const serving = await servingPairFrom(
    ca,
    readFileSync(o.env.kube.caKeyFile, 'utf8'),
    ['127.0.0.1'],
    ['localhost'],
  );
  writeFileSync(join(dir, 'nginx.crt'), serving.cert);
  writeFileSync(join(dir, 'nginx.key'), serving.key, { mode: 0o600 });
  const backend = await echo.startEchoBackend();
  const gateway = await nginx.startGateway({
    dir,
    serverCertFile: join(dir, 'nginx.crt'),
    serverKeyFile: join(dir, 'nginx.key'),
    clusterCaFile: o.env.kube.caFile,
    api: { hostPort: `127.0.0.1:${o.apiPort}`, name: 'localhost', caFile: o.env.kube.caFile },
    gatewayCertFile,
    gatewayKeyFile,
    // The suggested setting (deploy/gateway): every request asked about.
    reviewCache: '0s',
    backend: backend.url,
  });
  try {
    const seconds: number[] = [];
    for (let i = 0; i < o.repeats; i++)
      seconds.push(await deniedAfterRevoke(o, `${gateway.url}/`, ca, o.toolName(i)));
    return {
      name: 'gateway-deny',
      n: o.n,
      p50_s: round(percentile(seconds, 50), 3),
      p99_s: round(percentile(seconds, 99), 3),
    };
  } finally {
    await gateway.stop();
    await backend.close();
  }
}
