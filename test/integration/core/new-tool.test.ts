import { statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, kubectl } from '../../env/index.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

let s: Scenario;
const core = () => adminKubeConfig().makeApiClient(k8s.CoreV1Api);

beforeAll(async () => {
  s = await scenario('nt');
  await s.dir.addTool({ name: 'alpha', uidNumber: 52_001 });
  await s.dir.addTool({ name: 'beta', uidNumber: 52_002 });
});

describe('a new tool', () => {
  it('gets a namespace, quota, limits, binding, state and credentials in one sync', async () => {
    const result = await s.sync();
    expect(result.failures).toEqual([]);
    const ns = await core().readNamespace({ name: 'nt-alpha' });
    expect(ns.metadata?.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'kubeusers',
      tenancy: 'tool',
    });
    const quota = await core().readNamespacedResourceQuota({ namespace: 'nt-alpha', name: 'kubeusers' });
    expect(quota.spec?.hard?.pods).toBe('16');
    const limits = await core().readNamespacedLimitRange({ namespace: 'nt-alpha', name: 'kubeusers' });
    expect(limits.spec?.limits?.[0]?.type).toBe('Container');
    // The configured default limits, not the apiserver's fallback to max (client-node calls it _default).
    expect(limits.spec?.limits?.[0]?._default).toEqual({ cpu: '500m', memory: '512Mi' });
    const rb = await adminKubeConfig()
      .makeApiClient(k8s.RbacAuthorizationV1Api)
      .readNamespacedRoleBinding({ namespace: 'nt-alpha', name: 'kubeusers-tool' });
    expect(rb.roleRef.name).toBe('kubeusers-tool');
    const state = await core().readNamespacedConfigMap({
      namespace: 'kubeusers-nt',
      name: 'state-tool-alpha',
    });
    expect(state.data).toMatchObject({ status: 'active', epoch: '1', certEpoch: '1' });
    // The group names the installation and a random epoch id: kubeusers:<instance>:<kind>:<name>:<epochId>.
    expect(state.data).toMatchObject({
      epochId: expect.stringMatching(/^1-[0-9a-f]{16}$/),
      certGroup: expect.stringMatching(/^kubeusers:kubeusers-nt:tool:alpha:1-[0-9a-f]{16}$/),
    });
    expect(rb.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: state.data!.certGroup },
    ]);
    expect(state.data?.serial).toMatch(/^[0-9a-f]+$/);
    expect(state.data?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  const files: [string, string, number][] = [
    ['home', '', 0o2775],
    ['credentials dir', '.toolskube', 0o700],
    ['key', '.toolskube/client.key', 0o600],
    ['certificate', '.toolskube/client.crt', 0o644],
    ['kube dir', '.kube', 0o700],
    ['kubeconfig', '.kube/config', 0o600],
  ];
  it.each(files)('writes the %s with its mode, owned by the tool', (_, rel, mode) => {
    const st = statSync(join(s.homesRoot, 'alpha', rel));
    expect(st.mode & 0o7777).toBe(mode);
    expect([st.uid, st.gid]).toEqual([52_001, 52_001]);
  });

  it('gives a kubeconfig that works in its own namespace', async () => {
    const kc = kubeconfigOf(join(s.homesRoot, 'alpha'));
    const create = await kubectl(kc, ['create', 'configmap', 'hello', '--from-literal=a=b']);
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);
    const get = await kubectl(kc, ['get', 'configmap', 'hello', '-o', 'jsonpath={.data.a}']);
    expect(get.stdout).toBe('b');
    const who = await kubectl(kc, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(who.stdout).toBe('nt.alpha');
  });

  const forbidden: [string, string[]][] = [
    ["another tool's namespace", ['get', 'configmaps', '-n', 'nt-beta']],
    ['cluster-wide', ['get', 'namespaces']],
    ['RBAC in its own namespace', ['create', 'rolebinding', 'x', '--clusterrole=admin', '--user=me']],
    ['its quota', ['delete', 'resourcequota', 'kubeusers']],
  ];
  it.each(forbidden)('is forbidden %s', async (_, args) => {
    const r = await kubectl(kubeconfigOf(join(s.homesRoot, 'alpha')), args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden/i);
  });

  it('changes nothing when synced again', async () => {
    const again = await s.sync();
    expect(again.failures).toEqual([]);
    expect(again.done).toEqual([]);
  });
});
