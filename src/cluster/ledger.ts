// The revocation ledger: one ConfigMap per revoked certificate in kubeusers' own namespace, so it
// survives restarts and failover. An entry may go once its certificate has expired.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { AccountKind } from '../model/account.ts';
import type { Clients } from './client.ts';
import { isConflict, isNotFound } from './errors.ts';
import { deleteObject } from './objects.ts';
import { labels, managedSelector, ROLE_LABEL } from '../model/names.ts';

export type { Revocation } from '../model/revocation.ts';
import type { Revocation } from '../model/revocation.ts';

/** The entry's name: one per certificate, by serial. */
export const entryName = (serial: string): string => `revocation-${serial.slice(0, 40)}`;

export function revocationConfigMap(namespace: string, r: Revocation): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: entryName(r.serial),
      namespace,
      labels: labels(namespace, r.kind, r.account, 'revocation'),
    },
    data: {
      serial: r.serial,
      fingerprint: r.fingerprint,
      kind: r.kind,
      account: r.account,
      epoch: String(r.epoch),
      actor: r.actor,
      reason: r.reason,
      time: r.time.toISOString(),
      ...(r.notAfter ? { notAfter: r.notAfter.toISOString() } : {}),
    },
  };
}

/** An entry as kubeusers wrote it; anything else is not one. */
export function parseRevocation(cm: Pick<V1ConfigMap, 'data'>): Revocation | undefined {
  const d = cm.data ?? {};
  if (!d.serial || !d.account || (d.kind !== 'tool' && d.kind !== 'admin')) return undefined;
  return {
    serial: d.serial,
    fingerprint: d.fingerprint ?? '',
    kind: d.kind,
    account: d.account,
    epoch: Number(d.epoch ?? 0),
    actor: d.actor ?? '',
    reason: d.reason ?? '',
    time: new Date(d.time ?? 0),
    ...(d.notAfter ? { notAfter: new Date(d.notAfter) } : {}),
  };
}

export class Ledger {
  readonly #clients: Clients;
  readonly #namespace: string;

  constructor(clients: Clients, namespace: string) {
    this.#clients = clients;
    this.#namespace = namespace;
  }

  /** Records a revocation; recording the same certificate twice keeps the first record. */
  async record(r: Revocation): Promise<void> {
    try {
      await this.#clients.core.createNamespacedConfigMap({
        namespace: this.#namespace,
        body: revocationConfigMap(this.#namespace, r),
      });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  /** The certificate is recorded as revoked (looked up by serial, matched by serial or fingerprint). */
  async has(serial: string, fingerprint: string): Promise<boolean> {
    try {
      const cm = await this.#clients.core.readNamespacedConfigMap({
        namespace: this.#namespace,
        name: entryName(serial),
      });
      return cm.data?.serial === serial || cm.data?.fingerprint === fingerprint;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async list(filter: { kind?: AccountKind; account?: string } = {}): Promise<Revocation[]> {
    const selector = [managedSelector(this.#namespace), `${ROLE_LABEL}=revocation`];
    if (filter.kind) selector.push(`kubeusers.io/kind=${filter.kind}`);
    if (filter.account) selector.push(`kubeusers.io/account=${filter.account}`);
    const list = await this.#clients.core.listNamespacedConfigMap({
      namespace: this.#namespace,
      labelSelector: selector.join(','),
    });
    return list.items
      .map(parseRevocation)
      .filter((r): r is Revocation => r !== undefined)
      .sort((a, b) => b.time.getTime() - a.time.getTime());
  }

  /** Drops entries whose certificate has expired: nothing can use them any more. */
  async prune(now: Date): Promise<number> {
    const expired = (await this.list()).filter((r) => r.notAfter && r.notAfter < now);
    for (const r of expired)
      await deleteObject(this.#clients, {
        kind: 'ConfigMap',
        name: entryName(r.serial),
        namespace: this.#namespace,
      });
    return expired.length;
  }
}
