import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, kubectl } from '../../env/index.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

let s: Scenario;
const adminHome = (user: string) => join(s.adminHomesRoot, user);
const can = async (user: string, ...args: string[]) =>
  (await kubectl(kubeconfigOf(adminHome(user)), ['auth', 'can-i', ...args])).stdout.trim();

beforeAll(async () => {
  s = await scenario('ad');
  await s.dir.addTool({ name: 'tool1', uidNumber: 54_001 });
  for (const [i, user] of ['ada', 'bob', 'cyd'].entries()) {
    await s.dir.addUser({ user, uidNumber: 54_100 + i });
    await s.dir.addToAdminGroup(user);
  }
  const r = await s.sync();
  expect(r.failures).toEqual([]);
});

describe('an admin', () => {
  it('gets credentials in its own home, in a directory separate from a tool one', () => {
    const key = join(adminHome('ada'), '.admkube', 'client.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(statSync(key).uid).toBe(54_100);
    expect(existsSync(join(adminHome('ada'), '.toolskube'))).toBe(false);
  });

  const rights: [string, string[], string][] = [
    ['reads pods everywhere', ['list', 'pods', '--all-namespaces'], 'yes'],
    ['reads a tool namespace', ['get', 'configmaps', '-n', 'ad-tool1'], 'yes'],
    ['cannot write', ['create', 'configmaps', '-n', 'ad-tool1'], 'no'],
    ['cannot read secrets', ['get', 'secrets', '-n', 'ad-tool1'], 'no'],
    ['may impersonate a tool', ['impersonate', 'users/ad.tool1'], 'yes'],
  ];
  it.each(rights)('%s', async (_, args, answer) => {
    expect(await can('ada', ...args)).toBe(answer);
  });

  it('acts as a tool through impersonation', async () => {
    const group = (
      await adminKubeConfig()
        .makeApiClient(k8s.CoreV1Api)
        .readNamespacedConfigMap({ namespace: 'kubeusers-ad', name: 'state-tool-tool1' })
    ).data?.certGroup;
    const r = await kubectl(kubeconfigOf(adminHome('ada')), [
      '--as=ad.tool1',
      `--as-group=${group}`,
      '-n',
      'ad-tool1',
      'create',
      'configmap',
      'from-admin',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('is cut off when locked', async () => {
    await s.dir.lock(s.dir.userDn('bob'));
    await s.sync();
    expect(await can('bob', 'list', 'pods', '--all-namespaces')).toBe('no');
    expect(existsSync(join(adminHome('bob'), 'k8s.disabled'))).toBe(true);
  });

  it('is cut off when removed from the admin group, and its home stays', async () => {
    expect(await can('cyd', 'list', 'pods', '--all-namespaces')).toBe('yes');
    await s.dir.removeFromAdminGroup('cyd');
    await s.sync();
    expect(await can('cyd', 'list', 'pods', '--all-namespaces')).toBe('no');
    expect(existsSync(join(adminHome('cyd'), '.admkube', 'client.crt'))).toBe(true);
  });
});
