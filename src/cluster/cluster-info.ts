// The server URL and CA that go into every kubeconfig, from kube-public/cluster-info (kubeadm).
import { parse } from 'yaml';
import type { Clients } from './client.ts';

export interface ClusterInfo {
  server: string;
  caPem: string;
}

export async function readClusterInfo(clients: Clients, serverOverride?: string): Promise<ClusterInfo> {
  const cm = await clients.core.readNamespacedConfigMap({ namespace: 'kube-public', name: 'cluster-info' });
  const doc = parse(cm.data?.kubeconfig ?? '') as {
    clusters?: { cluster?: { server?: string; 'certificate-authority-data'?: string } }[];
  } | null;
  const cluster = doc?.clusters?.[0]?.cluster;
  const caData = cluster?.['certificate-authority-data'];
  const server = serverOverride ?? cluster?.server;
  if (!caData || !server)
    throw new Error(
      'kube-public/cluster-info holds no server and CA; create it as kubeadm does, or set kubernetes.server',
    );
  return { server, caPem: Buffer.from(caData, 'base64').toString('utf8') };
}
