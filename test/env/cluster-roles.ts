// The ClusterRoles kubeusers binds, the API's RBAC and the guard on kubeusers' own ServiceAccount,
// from deploy/, installed as an operator would: every test acting as that ServiceAccount runs under it.
import { join } from 'node:path';
import type { EnvInfo } from './environment.ts';
import { kubectl } from './index.ts';

const base = join(import.meta.dirname, '..', '..', 'deploy', 'base');
export const BOUND_ROLES = [
  'clusterrole-tool.yaml',
  'clusterrole-admin-impersonate.yaml',
  'clusterrole-api-admin.yaml',
  'kubeusers-guard.yaml',
];

export async function installClusterRoles(env: EnvInfo, files: string[] = BOUND_ROLES): Promise<void> {
  const args = [
    'apply',
    '--server-side',
    '--force-conflicts',
    ...files.flatMap((f) => ['-f', join(base, f)]),
  ];
  const r = await kubectl(env.kube.adminKubeconfig, args, env);
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}
