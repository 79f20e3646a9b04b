// etcd + kube-apiserver + kube-controller-manager on loopback, with the environment's own PKI,
// client-certificate authentication, RBAC, an audit log and the kube-apiserver-client signer.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { controlPlaneBinaries, type Binaries } from './binaries.ts';
import { makeClusterPki, writePair, type ClusterPki, type Pair } from './pki.ts';
import { freePort, portFree, startProcess, stopProcess, waitUntil, type Proc } from './proc.ts';

export interface KubeInfo {
  server: string;
  caFile: string;
  /** The client CA is also the kube-apiserver-client signer's CA. */
  caKeyFile: string;
  adminKubeconfig: string;
  auditLog: string;
  kubectl: string;
  /** Flags the apiserver and controller-manager ran with, recorded next to benchmark results. */
  flags: { apiserver: string[]; controllerManager: string[] };
  ports: Ports;
}

export interface RunningKube {
  info: KubeInfo;
  procs: Proc[];
  stop: () => Promise<void>;
}

export function kubeconfigYaml(server: string, caPem: string, user: Pair, name = 'admin'): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name, user: { 'client-certificate-data': b64(user.cert), 'client-key-data': b64(user.key) } }],
    contexts: [{ name, context: { cluster: 'local', user: name } }],
    'current-context': name,
  });
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

const CONTROLLERS = [
  'csrsigning',
  'csrcleaner',
  'namespace',
  'garbagecollector',
  'serviceaccount',
  'serviceaccount-token',
  'clusterrole-aggregation',
  'root-ca-cert-publisher',
];

async function get(url: string, pki: ClusterPki | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: pki?.ca.cert,
        cert: pki?.admin.cert,
        key: pki?.admin.key,
        rejectUnauthorized: pki !== undefined,
        timeout: 2_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  kcm: number;
}

function etcdArgs(dir: string, p: Ports): string[] {
  const client = `http://127.0.0.1:${p.etcdClient}`;
  const peer = `http://127.0.0.1:${p.etcdPeer}`;
  return [
    '--name=default',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function apiserverArgs(dir: string, p: Ports, files: Record<string, string>): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${p.etcdClient}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${p.apiserver}`,
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${files.servingCert}`,
    `--tls-private-key-file=${files.servingKey}`,
    `--client-ca-file=${files.caCert}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${files.saPub}`,
    `--service-account-signing-key-file=${files.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    `--audit-policy-file=${files.auditPolicy}`,
    `--audit-log-path=${files.auditLog}`,
    '--audit-log-maxsize=0',
    '--profiling=false',
    // As on real clusters (system pods need it); kubeusers' own policy is what forbids it to tools.
    '--allow-privileged=true',
    // The loopback advertise address cannot go into the kubernetes Service's endpoints.
    '--endpoint-reconciler-type=none',
    '--v=1',
  ];
}

function kcmArgs(dir: string, p: Ports, files: Record<string, string>): string[] {
  return [
    `--kubeconfig=${files.kcmKubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${p.kcm}`,
    `--cert-dir=${join(dir, 'kcm-certs')}`,
    `--controllers=${CONTROLLERS.join(',')}`,
    `--cluster-signing-kube-apiserver-client-cert-file=${files.caCert}`,
    `--cluster-signing-kube-apiserver-client-key-file=${files.caKey}`,
    `--service-account-private-key-file=${files.saKey}`,
    `--root-ca-file=${files.caCert}`,
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    '--v=1',
  ];
}

async function writeFiles(dir: string, pki: ClusterPki): Promise<Record<string, string>> {
  const pkiDir = join(dir, 'pki');
  await mkdir(pkiDir, { recursive: true });
  const ca = await writePair(pkiDir, 'ca', pki.ca);
  const serving = await writePair(pkiDir, 'apiserver', pki.serving);
  await writePair(pkiDir, 'admin', pki.admin);
  await writePair(pkiDir, 'kcm', pki.controllerManager);
  const saKey = join(pkiDir, 'sa.key');
  const saPub = join(pkiDir, 'sa.pub');
  await writeFile(saKey, pki.serviceAccount.key, { mode: 0o600 });
  await writeFile(saPub, pki.serviceAccount.pub);
  const auditPolicy = join(dir, 'audit-policy.yaml');
  await writeFile(auditPolicy, AUDIT_POLICY);
  return {
    caCert: ca.cert,
    caKey: ca.key,
    servingCert: serving.cert,
    servingKey: serving.key,
    saKey,
    saPub,
    auditPolicy,
    auditLog: join(dir, 'audit.log'),
    adminKubeconfig: join(dir, 'admin.kubeconfig'),
    kcmKubeconfig: join(dir, 'kcm.kubeconfig'),
  };
}

export interface KubeOptions {
  /** Start on the PKI and etcd data a previous run left in `dir` (the local demo's --keep). */
  reuse?: boolean;
  /** Ports to take again if they are free (a kept environment keeps its URLs). */
  ports?: Partial<Ports>;
}

async function readPki(dir: string): Promise<ClusterPki> {
  const pair = async (name: string): Promise<Pair> => ({
    cert: await readFile(join(dir, 'pki', `${name}.crt`), 'utf8'),
    key: await readFile(join(dir, 'pki', `${name}.key`), 'utf8'),
  });
  return {
    ca: await pair('ca'),
    serving: await pair('apiserver'),
    admin: await pair('admin'),
    controllerManager: await pair('kcm'),
    serviceAccount: {
      key: await readFile(join(dir, 'pki', 'sa.key'), 'utf8'),
      pub: await readFile(join(dir, 'pki', 'sa.pub'), 'utf8'),
    },
  };
}

async function pickPort(preferred: number | undefined): Promise<number> {
  return preferred !== undefined && (await portFree(preferred)) ? preferred : freePort();
}

export async function startKube(
  dir: string,
  bins: Binaries = controlPlaneBinaries(),
  opts: KubeOptions = {},
): Promise<RunningKube> {
  const reuse = opts.reuse === true && existsSync(join(dir, 'pki', 'kcm.key'));
  const pki = reuse ? await readPki(dir) : await makeClusterPki();
  const files = await writeFiles(dir, pki);
  const ports: Ports = {
    etcdClient: await pickPort(opts.ports?.etcdClient),
    etcdPeer: await pickPort(opts.ports?.etcdPeer),
    apiserver: await pickPort(opts.ports?.apiserver),
    kcm: await pickPort(opts.ports?.kcm),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  await writeFile(files.adminKubeconfig!, kubeconfigYaml(server, pki.ca.cert, pki.admin), { mode: 0o600 });
  await writeFile(files.kcmKubeconfig!, kubeconfigYaml(server, pki.ca.cert, pki.controllerManager, 'kcm'), {
    mode: 0o600,
  });

  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await stopProcess(p);
  };
  try {
    const etcd = startProcess(dir, 'etcd', bins.etcd, etcdArgs(dir, ports));
    procs.push(etcd);
    const apiArgs = apiserverArgs(dir, ports, files);
    const apiserver = startProcess(dir, 'kube-apiserver', bins.kubeApiserver, apiArgs);
    procs.push(apiserver);
    await waitUntil('kube-apiserver', async () => (await get(`${server}/readyz`, pki)) === 200, {
      timeoutMs: 60_000,
      proc: apiserver,
    });
    const controllerArgs = kcmArgs(dir, ports, files);
    const kcm = startProcess(dir, 'kube-controller-manager', bins.kubeControllerManager, controllerArgs);
    procs.push(kcm);
    await waitUntil(
      'kube-controller-manager',
      async () => (await get(`https://127.0.0.1:${ports.kcm}/healthz`, undefined)) === 200,
      {
        timeoutMs: 60_000,
        proc: kcm,
      },
    );
    const info: KubeInfo = {
      server,
      caFile: files.caCert!,
      caKeyFile: files.caKey!,
      adminKubeconfig: files.adminKubeconfig!,
      auditLog: files.auditLog!,
      kubectl: bins.kubectl,
      flags: { apiserver: apiArgs, controllerManager: controllerArgs },
      ports,
    };
    return { info, procs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
