// CertificateSigningRequests for the kubernetes.io/kube-apiserver-client signer: submit, approve,
// and wait for the controller-manager to sign, with a watch rather than a sleep.
import * as k8s from '@kubernetes/client-node';
import type { Clients } from './client.ts';
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
  api: k8s.CertificatesV1Api,
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

export async function deleteCsr(api: k8s.CertificatesV1Api, name: string): Promise<void> {
  try {
    await api.deleteCertificateSigningRequest({ name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export async function approveCsr(
  api: k8s.CertificatesV1Api,
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
 * bare kubeconfig, through client-node's own watch.
 */
export async function waitForCertificate(
  source: k8s.KubeConfig | Pick<Clients, 'stream'>,
  csr: k8s.V1CertificateSigningRequest,
  timeoutMs: number,
): Promise<string> {
  const already = certificateOf(csr);
  if (typeof already === 'string') return already;
  if (already instanceof Error) throw already;
  const name = csr.metadata!.name!;
  if (!(source instanceof k8s.KubeConfig))
    return watchPooled(source, name, csr.metadata?.resourceVersion, timeoutMs);
  const kc = source;
  const watch = new k8s.Watch(kc);
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new CsrWaitError(`CSR ${name} was not signed within ${timeoutMs} ms`, 'sign-timeout')),
        timeoutMs,
      );
      watch
        .watch(
          '/apis/certificates.k8s.io/v1/certificatesigningrequests',
          { fieldSelector: `metadata.name=${name}`, resourceVersion: csr.metadata?.resourceVersion },
          (phase, obj: k8s.V1CertificateSigningRequest) => {
            if (phase === 'DELETED')
              return reject(new CsrFailedError(`CSR ${name} was deleted while waiting`));
            const result = certificateOf(obj);
            if (typeof result === 'string') resolve(result);
            else if (result instanceof Error) reject(result);
          },
          (err: unknown) => {
            const ended = err ? `failed` : `closed before it was signed`;
            reject(new CsrWaitError(`watch on CSR ${name} ${ended}`, 'watch-ended', { cause: err }));
          },
        )
        .then((a) => (abort = a), reject);
    });
  } finally {
    clearTimeout(timer);
    abort?.abort();
  }
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
