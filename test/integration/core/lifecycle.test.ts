import { existsSync, mkdirSync, readFileSync, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { certInfo, certMatchesKey } from '../../../src/pki/cert.ts';
import { adminKubeConfig, kubectl } from '../../env/index.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';

let s: Scenario;
const home = (tool: string) => join(s.homesRoot, tool);
const core = () => adminKubeConfig().makeApiClient(k8s.CoreV1Api);

/** Syncs until `done` holds, for changes that wait on the namespace controller. */
async function syncUntil(done: () => Promise<boolean>, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    await s.sync();
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('did not converge');
}

const USER_CONFIG = `apiVersion: v1
kind: Config
# the user's own comment
clusters:
- name: other-a
  cluster: { server: 'https://a.example:6443' }
- name: other-b
  cluster: { server: 'https://b.example:6443' }
users:
- name: me
  user: { token: not-a-real-token }
contexts:
- name: ctx-a
  context: { cluster: other-a, user: me }
- name: ctx-b
  context: { cluster: other-b, user: me }
`;

beforeAll(async () => {
  // Renewal is due almost at once, so the second sync renews.
  s = await scenario('lc', {
    certificates: { lifetimeSeconds: 600, renewFraction: 0.001, jitterFraction: 0 },
  });
  for (const [i, name] of ['keep', 'renew', 'lock', 'gone', 'broken'].entries()) {
    await s.dir.addTool({ name, uidNumber: 53_000 + i });
  }
  // A user's own kubeconfig before kubeusers ever runs, and one that does not parse.
  for (const [tool, uid, text] of [
    ['keep', 53_000, USER_CONFIG],
    ['broken', 53_004, 'clusters: [unclosed\n  - :'],
  ] as const) {
    mkdirSync(join(home(tool), '.kube'), { recursive: true, mode: 0o700 });
    chownSync(home(tool), uid, uid);
    chownSync(join(home(tool), '.kube'), uid, uid);
    writeFileSync(kubeconfigOf(home(tool)), text, { mode: 0o600 });
    chownSync(kubeconfigOf(home(tool)), uid, uid);
  }
  await s.sync();
});

describe('an existing kubeconfig', () => {
  const kept = () => {
    const doc = parse(readFileSync(kubeconfigOf(home('keep')), 'utf8')) as {
      clusters: { name: string }[];
      contexts: { name: string }[];
      users: { name: string }[];
    };
    return {
      clusters: doc.clusters.map((c) => c.name),
      contexts: doc.contexts.map((c) => c.name),
      users: doc.users.map((u) => u.name),
    };
  };

  it('keeps the user clusters, contexts and comments after issuance', () => {
    expect(kept()).toEqual({
      clusters: ['other-a', 'other-b', 'test'],
      contexts: ['ctx-a', 'ctx-b', 'test'],
      users: ['me', 'test-lc.keep'],
    });
    expect(readFileSync(kubeconfigOf(home('keep')), 'utf8')).toContain("# the user's own comment");
  });

  it('keeps them after renewal too, and our context works', async () => {
    await s.sync();
    expect(kept()).toEqual({
      clusters: ['other-a', 'other-b', 'test'],
      contexts: ['ctx-a', 'ctx-b', 'test'],
      users: ['me', 'test-lc.keep'],
    });
    const r = await kubectl(kubeconfigOf(home('keep')), ['--context', 'test', 'get', 'configmaps']);
    expect(r.stderr).toBe('');
  });

  it('leaves an unparsable one byte for byte and reports it', async () => {
    const result = await s.sync({ only: new Set(['tool/broken']), force: new Set(['tool/broken']) });
    expect(readFileSync(kubeconfigOf(home('broken')), 'utf8')).toBe('clusters: [unclosed\n  - :');
    expect(result.failures).toEqual([
      {
        account: 'tool/broken',
        error: expect.stringMatching(/\.kube\/config is left as it was: it does not parse/),
      },
    ]);
    const state = await core().readNamespacedConfigMap({
      namespace: 'kubeusers-lc',
      name: 'state-tool-broken',
    });
    expect(state.data?.lastError).toMatch(/does not parse/);
  });
});

describe('renewal', () => {
  it('replaces the certificate with a new key and serial, and kubectl works with the new files', async () => {
    const before = readFileSync(join(home('renew'), '.toolskube', 'client.crt'), 'utf8');
    const keyBefore = readFileSync(join(home('renew'), '.toolskube', 'client.key'), 'utf8');
    const result = await s.sync();
    expect(result.done).toContain('tool/renew: issue a certificate (due)');
    const after = readFileSync(join(home('renew'), '.toolskube', 'client.crt'), 'utf8');
    const keyAfter = readFileSync(join(home('renew'), '.toolskube', 'client.key'), 'utf8');
    expect((await certInfo(after)).serial).not.toBe((await certInfo(before)).serial);
    expect(keyAfter).not.toBe(keyBefore);
    expect(await certMatchesKey(after, keyAfter)).toBe(true);
    const r = await kubectl(kubeconfigOf(home('renew')), ['get', 'configmaps']);
    expect(r.stderr).toBe('');
  });

  it('never shows a concurrent reader a half-written file', async () => {
    const files = ['.toolskube/client.crt', '.toolskube/client.key', '.kube/config'].map((f) =>
      join(home('renew'), f),
    );
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        for (const f of files) {
          const text = readFileSync(f, 'utf8');
          if (f.endsWith('config')) expect(parse(text)).toHaveProperty('current-context');
          else expect(text).toMatch(/^-----BEGIN [A-Z ]+-----\n[\s\S]+\n-----END [A-Z ]+-----\n?$/);
          reads++;
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 3; i++) await s.sync({ only: new Set(['tool/renew']) });
    stop = true;
    await reader;
    expect(reads).toBeGreaterThan(30);
  });
});

describe('a locked account', () => {
  it('loses access within one sync, with a flag in the home', async () => {
    const kc = kubeconfigOf(home('lock'));
    expect((await kubectl(kc, ['get', 'configmaps'])).code).toBe(0);
    await s.dir.lock(s.dir.toolDn('lock'));
    await s.sync();
    const r = await kubectl(kc, ['get', 'configmaps', '-n', 'lc-lock']);
    expect(r.stderr).toMatch(/forbidden/i);
    expect(existsSync(join(home('lock'), 'k8s.disabled'))).toBe(true);
    const state = await core().readNamespacedConfigMap({
      namespace: 'kubeusers-lc',
      name: 'state-tool-lock',
    });
    expect(state.data).toMatchObject({ status: 'locked', epoch: '2' });
  });

  it('works again once unlocked, and the flag is gone', async () => {
    await s.dir.unlock(s.dir.toolDn('lock'));
    const kc = kubeconfigOf(home('lock'));
    await syncUntil(async () => (await kubectl(kc, ['get', 'configmaps'])).code === 0);
    expect(existsSync(join(home('lock'), 'k8s.disabled'))).toBe(false);
  });
});

describe('a removed account', () => {
  it('loses its namespace and state; its home stays', async () => {
    await s.dir.deleteTool('gone');
    await s.sync();
    const ns = await core()
      .readNamespace({ name: 'lc-gone' })
      .catch((e: { code?: number }) => e);
    expect(
      (ns as k8s.V1Namespace).status?.phase === 'Terminating' || (ns as { code?: number }).code === 404,
    ).toBe(true);
    await expect(
      core().readNamespacedConfigMap({ namespace: 'kubeusers-lc', name: 'state-tool-gone' }),
    ).rejects.toMatchObject({ code: 404 });
    expect(existsSync(join(home('gone'), '.toolskube', 'client.crt'))).toBe(true);
    expect(existsSync(kubeconfigOf(home('gone')))).toBe(true);
  });
});
