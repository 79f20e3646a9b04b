// The settings that point a kubeusers daemon at this environment: its LDAP, its cluster, its homes,
// the admin API on loopback with a serving certificate from the environment's CA.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvInfo } from './environment.ts';
import { servingPairFrom } from './pki.ts';

export interface DaemonPorts {
  ops: number;
  api: number;
}

/** Writes `api.crt` and `api.key` into `dir`, signed by the environment's CA for 127.0.0.1. */
export async function writeApiServingPair(
  env: EnvInfo,
  dir: string,
): Promise<{ certFile: string; keyFile: string }> {
  const pair = await servingPairFrom(
    readFileSync(env.kube.caFile, 'utf8'),
    readFileSync(env.kube.caKeyFile, 'utf8'),
    ['127.0.0.1'],
    ['localhost'],
  );
  const certFile = join(dir, 'api.crt');
  const keyFile = join(dir, 'api.key');
  writeFileSync(certFile, pair.cert);
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  return { certFile, keyFile };
}

export function daemonSettings(
  env: EnvInfo,
  clusterName: string,
  ports: DaemonPorts,
  tls: { certFile: string; keyFile: string },
): Record<string, unknown> {
  return {
    ldap: {
      servers: [env.ldap.ldapsUrl],
      caFile: env.ldap.caFile,
      bindDn: env.ldap.serviceDn,
      bindPassword: { file: env.ldap.servicePasswordFile },
      baseDn: env.ldap.shape.baseDn,
      project: env.ldap.shape.project,
    },
    homes: { root: env.homesRoot, adminRoot: env.adminHomesRoot },
    kubernetes: { kubeconfig: env.kube.adminKubeconfig, clusterName },
    api: { enabled: true, address: '127.0.0.1', port: ports.api, ...tls },
    ops: { address: '127.0.0.1', port: ports.ops },
  };
}
