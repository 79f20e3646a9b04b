import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generatedTools } from '../../env/ldif.ts';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig } from '../../env/index.ts';
import { scenario, type Scenario } from '../support.ts';
import { auditOffset, auditedSince } from '../../env/audit.ts';

let s: Scenario;
// At 1,000 accounts the cost must not grow: one labelled list per kind, however many, read a page of
// 500 at a time (each page summarised before the next: a one-shot's peak is one page, not a list).
const N = 1_000;
const PAGE = 500;

beforeAll(async () => {
  s = await scenario('co', {}, { ownLdap: { tools: generatedTools(N, { prefix: 'c', firstUid: 61_000 }) } });
  const first = await s.sync();
  expect(first.failures).toEqual([]);
});
afterAll(() => s.ldap?.stop());

/** Requests this installation made, from the apiserver's audit log. */
const audited = (offset: number) => auditedSince(offset, 'kubeusers-co');

describe('the cost of a sync', () => {
  it(`makes one labelled list per kind for a no-op sync of ${N} accounts, paged, never a request per namespace`, async () => {
    const offset = auditOffset();
    const result = await s.sync();
    expect(result.done).toEqual([]);
    const requests = audited(offset);
    expect(requests.every((r) => r.verb === 'list')).toBe(true);
    const pages = new Map<string, number>();
    for (const r of requests) {
      const [path = '', query = ''] = r.uri.split('?');
      const q = new URLSearchParams(query);
      expect({ path, labelled: q.has('labelSelector'), limit: q.get('limit') }).toEqual({
        path,
        labelled: true,
        limit: String(PAGE),
      });
      pages.set(path, (pages.get(path) ?? 0) + 1);
    }
    // Eight kinds, each one collection (none a tool's namespace): never a request per namespace.
    expect(pages.size).toBe(8);
    for (const [path, n] of pages) expect({ path, n: Math.min(n, N / PAGE + 1) }).toEqual({ path, n });
  });

  it(`renews one account of ${N} with lists of that account's objects only`, async () => {
    const offset = auditOffset();
    const key = 'tool/c-00500';
    const result = await s.sync({ only: new Set([key]), force: new Set([key]) });
    expect(result.failures).toEqual([]);
    expect(result.done).toContainEqual(
      expect.stringMatching(/^tool\/c-00500: issue a certificate \(forced\)/),
    );
    const lists = audited(offset).filter((r) => r.verb === 'list');
    expect(lists).toHaveLength(8);
    for (const l of lists) expect(decodeURIComponent(l.uri)).toContain('kubeusers.io/account=c-00500');
  });

  it(`labels each of ${N} tool namespaces with its pod identity, keeps no parameter objects, and adds nothing cluster-wide`, async () => {
    const kc = adminKubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const labelled = await core.listNamespace({
      labelSelector: 'kubeusers.io/instance=kubeusers-co,kubeusers.io/uid,kubeusers.io/gid',
    });
    expect(labelled.items).toHaveLength(N);
    const params = await core.listConfigMapForAllNamespaces({
      labelSelector: 'kubeusers.io/instance=kubeusers-co,kubeusers.io/role=pod-identity',
    });
    expect(params.items).toEqual([]);
    const adm = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    expect(
      (await adm.listValidatingAdmissionPolicy()).items.filter((p) =>
        p.metadata?.name?.startsWith('kubeusers-pod-identity'),
      ),
    ).toHaveLength(1);
    expect(
      (await adm.listValidatingAdmissionPolicyBinding()).items.filter((p) =>
        p.metadata?.name?.startsWith('kubeusers-pod-identity'),
      ),
    ).toHaveLength(1);
    const crbs = await kc
      .makeApiClient(k8s.RbacAuthorizationV1Api)
      .listClusterRoleBinding({ labelSelector: 'kubeusers.io/instance=kubeusers-co' });
    expect(crbs.items).toEqual([]);
  });
});
