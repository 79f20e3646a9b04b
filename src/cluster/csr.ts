// CertificateSigningRequests for the kubernetes.io/kube-apiserver-client signer: submit, approve,
// and wait for the controller-manager to sign, with a watch rather than a sleep.
import type * as k8s from '@kubernetes/client-node';
import type { CertificatesApi } from './apis.ts';
import { makeClients, type Clients } from './client.ts';
import type { KubeAccess } from './kubeconfig.ts';
import { TokenBucket } from './rate-limit.ts';
import { isConflict, isNotFound } from './errors.ts';
import { lines } from './watch.ts';

export const CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';
/** The API's floor for spec.expirationSeconds. */
export const MIN_EXPIRATION_SECONDS = 600;

export interface CsrRequest {
  name: string;
  csrPem: string;
  expirationSeconds: number;
  labels?: Record<string, string>;
}

/** The lifetime a CSR asks for: the API refuses less than its floor. */
export const expirationSecondsFor = (lifetimeSeconds: number): number =>
  Math.max(MIN_EXPIRATION_SECONDS, Math.floor(lifetimeSeconds));

export function csrObject(req: CsrRequest): k8s.V1CertificateSigningRequest {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name: req.name, labels: req.labels ?? {} },
    spec: {
      signerName: CLIENT_SIGNER,
      request: Buffer.from(req.csrPem).toString('base64'),
      expirationSeconds: expirationSecondsFor(req.expirationSeconds),
      usages: ['client auth', 'digital signature'],
    },
  };
}

/**
 * Creates the CSR. One of the same name left by a crash carries a key we no longer hold, so it is
 * deleted and replaced rather than adopted: it must never wedge the account.
 */
export async function submitCsr(
  api: CertificatesApi,
  req: CsrRequest,
): Promise<k8s.V1CertificateSigningRequest> {
  const body = csrObject(req);
  try {
    return await api.createCertificateSigningRequest({ body });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
  await deleteCsr(api, req.name);
  return api.createCertificateSigningRequest({ body });
}

export async function deleteCsr(api: CertificatesApi, name: string): Promise<void> {
  try {
    await api.deleteCertificateSigningRequest({ name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export async function approveCsr(
  api: CertificatesApi,
  csr: k8s.V1CertificateSigningRequest,
  message: string,
  now: Date,
): Promise<k8s.V1CertificateSigningRequest> {
  const approved: k8s.V1CertificateSigningRequest = {
    ...csr,
    status: {
      ...csr.status,
      conditions: [
        ...(csr.status?.conditions ?? []),
        {
          type: 'Approved',
          status: 'True',
          reason: 'KubeusersApproved',
          message,
          lastUpdateTime: now,
        },
      ],
    },
  };
  return api.replaceCertificateSigningRequestApproval({ name: csr.metadata!.name!, body: approved });
}

export class CsrFailedError extends Error {}
/** The signer did not answer in time, or the watch ended before it did: worth another attempt. */
export class CsrWaitError extends Error {
  readonly reason: 'sign-timeout' | 'watch-ended';
  constructor(message: string, reason: CsrWaitError['reason'], options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** The PEM certificate, or a reason the CSR will never be signed. */
export function certificateOf(csr: k8s.V1CertificateSigningRequest): string | CsrFailedError | undefined {
  for (const c of csr.status?.conditions ?? []) {
    if ((c.type === 'Denied' || c.type === 'Failed') && c.status === 'True') {
      return new CsrFailedError(
        `CSR ${csr.metadata?.name} ${c.type.toLowerCase()}: ${c.reason ?? ''} ${c.message ?? ''}`.trim(),
      );
    }
  }
  const cert = csr.status?.certificate;
  return cert ? Buffer.from(cert, 'base64').toString('utf8') : undefined;
}

/**
 * Waits for the signer, watching from the version we last saw so no update is missed. Given the
 * client set, the watch goes through its connection pool (no TLS handshake per issuance); given a
 * bare access (a tool of its own, bench/floor.ts), through a client set made for this one wait.
 */
export async function waitForCertificate(
  source: KubeAccess | Pick<Clients, 'stream'>,
  csr: k8s.V1CertificateSigningRequest,
  timeoutMs: number,
): Promise<string> {
  const already = certificateOf(csr);
  if (typeof already === 'string') return already;
  if (already instanceof Error) throw already;
  const clients =
    'stream' in source
      ? source
      : makeClients(source, new TokenBucket(1, 1), { userAgent: 'kubeusers-csr-wait' });
  return watchPooled(clients, csr.metadata!.name!, csr.metadata?.resourceVersion, timeoutMs);
}

type CsrEvent = { type: string; object: k8s.V1CertificateSigningRequest };

/** The signer's answer from one watch on the shared connection pool. */
async function watchPooled(
  clients: Pick<Clients, 'stream'>,
  name: string,
  resourceVersion: string | undefined,
  timeoutMs: number,
): Promise<string> {
  const abort = new AbortController();
  const timeout = new CsrWaitError(`CSR ${name} was not signed within ${timeoutMs} ms`, 'sign-timeout');
  const timer = setTimeout(() => abort.abort(timeout), timeoutMs);
  const q = new URLSearchParams({
    watch: '1',
    fieldSelector: `metadata.name=${name}`,
    timeoutSeconds: String(Math.ceil(timeoutMs / 1000) + 5),
    ...(resourceVersion ? { resourceVersion } : {}),
  });
  try {
    const res = await clients.stream(
      `/apis/certificates.k8s.io/v1/certificatesigningrequests?${q}`,
      abort.signal,
    );
    if (res.status !== 200 || !res.body) throw new Error(`HTTP ${res.status}`);
    for await (const line of lines(res.body)) {
      const result = signed(name, JSON.parse(line) as CsrEvent);
      if (typeof result === 'string') return result;
      if (result) throw result;
    }
    throw new CsrWaitError(`watch on CSR ${name} closed before it was signed`, 'watch-ended');
  } catch (err) {
    if (abort.signal.aborted && abort.signal.reason === timeout) throw timeout;
    if (err instanceof CsrFailedError || err instanceof CsrWaitError) throw err;
    throw new CsrWaitError(`watch on CSR ${name} failed`, 'watch-ended', { cause: err });
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

function signed(name: string, ev: CsrEvent): string | Error | undefined {
  if (ev.type === 'DELETED') return new CsrFailedError(`CSR ${name} was deleted while waiting`);
  if (ev.type === 'ERROR') return new CsrWaitError(`watch on CSR ${name} failed`, 'watch-ended');
  return ev.type === 'BOOKMARK' ? undefined : certificateOf(ev.object);
}
