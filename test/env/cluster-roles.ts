// The ClusterRoles kubeusers binds, the API's RBAC and the guard on kubeusers' own ServiceAccount,
// from deploy/, installed as an operator would: every test acting as that ServiceAccount runs under it.
import { join } from 'node:path';
import type { EnvInfo } from './environment.ts';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, kubectl } from './index.ts';

const base = join(import.meta.dirname, '..', '..', 'deploy', 'base');
export const BOUND_ROLES = [
  'clusterrole-tool.yaml',
  'clusterrole-admin-impersonate.yaml',
  'clusterrole-api-admin.yaml',
  'clusterrole-gateway.yaml',
  'kubeusers-guard.yaml',
];

/** The pod-identity policy, applied with the base before kubeusers starts, as an operator does (ADR 20). */
export const POD_IDENTITY = 'pod-identity.yaml';

export async function installClusterRoles(
  env: EnvInfo,
  files: string[] = [...BOUND_ROLES, POD_IDENTITY],
): Promise<void> {
  const args = [
    'apply',
    '--server-side',
    '--force-conflicts',
    ...files.flatMap((f) => ['-f', join(base, f)]),
  ];
  const r = await kubectl(env.kube.adminKubeconfig, args, env);
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

/**
 * What an operator does for an installation in its own namespace: bind the group its admins'
 * certificates carry, `kubeusers:<instance>:admins`, to the API's ClusterRole (deploy/ binds the one
 * of the namespace `kubeusers`).
 */
export async function bindApiAdmins(env: EnvInfo, instance: string): Promise<void> {
  const rbac = adminKubeConfig(env).makeApiClient(k8s.RbacAuthorizationV1Api);
  const body: k8s.V1ClusterRoleBinding = {
    metadata: {
      name: `kubeusers-api-admins-${instance}`,
      labels: { 'app.kubernetes.io/part-of': 'kubeusers' },
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubeusers-api-admin' },
    subjects: [
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: `kubeusers:${instance}:admins` },
    ],
  };
  await rbac.createClusterRoleBinding({ body }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
}
