// kube-public/cluster-info as kubeadm publishes it: a kubeconfig with the server and CA, readable anonymously.
import { readFile } from 'node:fs/promises';
import * as k8s from '@kubernetes/client-node';
import type { KubeInfo } from './kube.ts';

export function adminClient(info: KubeInfo): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.adminKubeconfig);
  return kc;
}

/** Creating what is already there is fine (a kept environment). */
async function ignoreExisting(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

export async function publishClusterInfo(info: KubeInfo): Promise<void> {
  const kc = adminClient(info);
  const caPem = await readFile(info.caFile, 'utf8');
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    `    server: ${info.server}`,
    '  name: ""',
    'contexts: []',
    'current-context: ""',
    'preferences: {}',
    'users: []',
    '',
  ].join('\n');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await ignoreExisting(
    core.createNamespacedConfigMap({
      namespace: 'kube-public',
      body: { metadata: { name: 'cluster-info' }, data: { kubeconfig } },
    }),
  );
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const name = 'kubeadm:bootstrap-signer-clusterinfo';
  await ignoreExisting(
    rbac.createNamespacedRole({
      namespace: 'kube-public',
      body: {
        metadata: { name },
        rules: [
          { apiGroups: [''], resources: ['configmaps'], resourceNames: ['cluster-info'], verbs: ['get'] },
        ],
      },
    }),
  );
  await ignoreExisting(
    rbac.createNamespacedRoleBinding({
      namespace: 'kube-public',
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:anonymous' }],
      },
    }),
  );
}
