// The attacker is tool `lg`, whose credential was revoked after a leak. It kept a copy of the revoked
// certificate and key (its own files), and it may write ConfigMaps in its own namespace. When
// kubeusers' state of the account is lost, it dresses the revoked certificate up as a
// maintain-kubeusers migration (a `maintain-kubeusers` ConfigMap with `expires`, the files back in
// ~/.toolskube) so that kubeusers adopts it and binds its user name again.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { apiDeps } from '../../../src/api/wire.ts';
import { adminKubeConfig, kubectl, testEnv } from '../../env/index.ts';
import { kubeconfigYaml } from '../../env/kube.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

const UID = 54_001;
let s: Scenario;
let stashed = '';
const home = (): string => join(s.homesRoot, 'lg');
const ns = (): string => `${s.settings.kubernetes.namespacePrefix}lg`;

/** A shell command run as the tool itself, in its home. */
function asTool(script: string): void {
  const r = spawnSync('sh', ['-c', script], { cwd: home(), uid: UID, gid: UID, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`as the tool: ${script}: exit ${r.status}: ${r.stderr}`);
}

/** A kubeconfig for the certificate and key the tool stashed (the tool can make this itself). */
function kubeconfigForStash(): string {
  const env = testEnv();
  const file = join(mkdtempSync(join(env.dir, 'stash-')), 'config');
  const pair = {
    cert: readFileSync(join(home(), 'stash', 'client.crt'), 'utf8'),
    key: readFileSync(join(home(), 'stash', 'client.key'), 'utf8'),
  };
  writeFileSync(file, kubeconfigYaml(env.kube.server, readFileSync(env.kube.caFile, 'utf8'), pair, 'lg'), {
    mode: 0o600,
  });
  return file;
}

beforeAll(async () => {
  s = await scenario('adp');
  await s.dir.addTool({ name: 'lg', uidNumber: UID });
  expect((await s.sync()).failures).toEqual([]);
  asTool('mkdir -p stash && cp .toolskube/client.crt .toolskube/client.key stash/');
  await apiDeps(s.app).revoke({ kind: 'tool', name: 'lg', actor: 'test', reason: 'leaked', reissue: true });
  // The reissue after a revocation is done by the next sync.
  expect((await s.sync()).failures).toEqual([]);
  stashed = kubeconfigForStash();
});

describe('a revoked certificate dressed up as a maintain-kubeusers one', () => {
  it('is cut off by the revocation', async () => {
    const r = await kubectl(stashed, ['get', 'configmaps', '-n', ns()]);
    expect(r.stderr).toMatch(/forbidden/i);
  });

  it('is not adopted after kubeusers lost the state of the account', async () => {
    // Setup, with the cluster admin's rights: kubeusers' state of the account is lost (an operator's
    // mistake, a restore from an old backup). Everything after this line is the tool's own doing.
    await adminKubeConfig()
      .makeApiClient(k8s.CoreV1Api)
      .deleteNamespacedConfigMap({ namespace: s.settings.kubernetes.namespace, name: 'state-tool-lg' });
    const expires = new Date(Date.now() + 300 * 86_400_000).toISOString();
    const made = await kubectl(kubeconfigOf(home()), [
      'create',
      'configmap',
      'maintain-kubeusers',
      `--from-literal=status=user_created`,
      `--from-literal=expires=${expires}`,
    ]);
    expect(made.stderr).toBe('');
    asTool('cp stash/client.crt .toolskube/client.crt && cp stash/client.key .toolskube/client.key');

    await s.sync();

    const r = await kubectl(stashed, ['get', 'configmaps', '-n', ns()]);
    expect(r.stderr).toMatch(/forbidden/i);
    expect(r.code).not.toBe(0);
  });

  it('leaves the tool a working credential of its own', async () => {
    await s.sync();
    const r = await kubectl(kubeconfigOf(home()), ['get', 'configmaps']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
