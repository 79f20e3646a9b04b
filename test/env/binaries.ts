// Where build-control-plane.sh and build-helm.sh cache the binaries: outside the repository, keyed by version.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface Versions {
  kubernetes: string;
  etcd: string;
  helm: string;
}

export function pinnedVersions(): Versions {
  const text = readFileSync(join(here, 'versions.env'), 'utf8');
  const get = (key: string): string => {
    const m = new RegExp(`^${key}=(.+)$`, 'm').exec(text);
    if (!m?.[1]) throw new Error(`test/env/versions.env has no ${key}`);
    return m[1].trim();
  };
  return { kubernetes: get('KUBERNETES_VERSION'), etcd: get('ETCD_VERSION'), helm: get('HELM_VERSION') };
}

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
}

function cacheDir(env: NodeJS.ProcessEnv): string {
  return env.KUBEUSERS_CACHE ?? join(homedir(), '.cache', 'kubeusers');
}

export function controlPlaneBinaries(env: NodeJS.ProcessEnv = process.env): Binaries {
  const v = pinnedVersions();
  const cache = cacheDir(env);
  const bin = join(cache, 'control-plane', `k8s-v${v.kubernetes}-etcd-v${v.etcd}`, 'bin');
  const bins: Binaries = {
    etcd: join(bin, 'etcd'),
    kubeApiserver: join(bin, 'kube-apiserver'),
    kubeControllerManager: join(bin, 'kube-controller-manager'),
    kubectl: join(bin, 'kubectl'),
  };
  const missing = [bins.etcd, bins.kubeApiserver, bins.kubeControllerManager, bins.kubectl].filter(
    (p) => !existsSync(p),
  );
  if (missing.length > 0) {
    throw new Error(
      `The control plane (Kubernetes ${v.kubernetes}, etcd ${v.etcd}) is not built: run 'npm run env:build' (missing ${missing.join(', ')})`,
    );
  }
  return bins;
}

/** helm, as build-helm.sh built it (`npm run env:build`). */
export function helmBinary(env: NodeJS.ProcessEnv = process.env): string {
  const v = pinnedVersions();
  const helm = join(cacheDir(env), 'helm', `v${v.helm}`, 'bin', 'helm');
  if (!existsSync(helm)) {
    throw new Error(`helm ${v.helm} is not built: run 'npm run env:build' (missing ${helm})`);
  }
  return helm;
}
