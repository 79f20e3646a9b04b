// The yardstick: how fast this cluster signs N approved CSRs when a minimal client does nothing else.
import * as k8s from '@kubernetes/client-node';
import { approveCsr, submitCsr } from '../src/cluster/csr.ts';
import { buildCsrPem } from '../src/pki/csr.ts';
import { generateKey } from '../src/pki/keys.ts';
import { mapPool } from '../src/reconcile/pool.ts';

export async function signerFloor(kc: k8s.KubeConfig, n: number): Promise<number> {
  const api = kc.makeApiClient(k8s.CertificatesV1Api);
  // Keys and requests are made before the clock starts: the floor is the cluster's, not ours.
  const requests = await Promise.all(
    Array.from({ length: n }, async (_, i) =>
      buildCsrPem(
        { commonName: `floor-${i}`, groups: ['bench'] },
        await generateKey('ecdsa-p256'),
        'ecdsa-p256',
      ),
    ),
  );
  const started = performance.now();
  await mapPool(
    requests.map((csrPem, i) => ({ csrPem, i })),
    32,
    async ({ csrPem, i }) => {
      const created = await submitCsr(api, {
        name: `floor-${i}`,
        csrPem,
        expirationSeconds: 3600,
        labels: { bench: 'floor' },
      });
      await approveCsr(api, created, 'benchmark', new Date());
    },
  ).then((r) => {
    const failed = r.filter((x) => x.status === 'rejected');
    if (failed.length) throw new Error(`${failed.length} floor CSRs failed`);
  });
  for (;;) {
    const list = await api.listCertificateSigningRequest({ labelSelector: 'bench=floor' });
    if (list.items.filter((c) => c.status?.certificate).length >= n) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  await api.deleteCollectionCertificateSigningRequest({ labelSelector: 'bench=floor' });
  return seconds;
}
