// The pod-identity policy ships in deploy/base (and the chart) and kubeusers creates it at start when
// it is missing. The operator re-applies the base on an upgrade (`kubectl apply --server-side`,
// kubectl's own field manager, no --force-conflicts): that must never conflict with kubeusers, with
// the same content or with a newer release's (ADR 20).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { createIfMissing } from '../../../src/cluster/objects.ts';
import { podIdentityPolicy, POLICY_NAME } from '../../../src/model/pod-identity.ts';
import { FIELD_MANAGER } from '../../../src/model/names.ts';
import { ensureOwnNamespace } from '../../../src/main.ts';
import { kubectl, testEnv } from '../../env/index.ts';
import { scenario } from '../support.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const shipped = join(repo, 'deploy', 'base', 'pod-identity.yaml');
const scratch = mkdtempSync(join(tmpdir(), 'kubeusers-ssa-'));
const KINDS = ['validatingadmissionpolicy', 'validatingadmissionpolicybinding'];

interface Meta {
  resourceVersion: string;
  managedFields: { manager: string; operation: string }[];
}

async function meta(kind: string, name = POLICY_NAME): Promise<Meta> {
  const r = await kubectl(testEnv().kube.adminKubeconfig, [
    'get',
    kind,
    name,
    '-o',
    'json',
    '--show-managed-fields',
  ]);
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as { metadata: Meta }).metadata;
}

/** `kubectl apply --server-side` as the operator types it (no --force-conflicts). */
const operatorApply = (file: string, ...extra: string[]) =>
  kubectl(testEnv().kube.adminKubeconfig, ['apply', '--server-side', ...extra, '-f', file]);

describe('the pod-identity policy, shipped in deploy/base and created by kubeusers when missing', () => {
  it('a daemon start leaves the shipped policy alone, and the operator re-applies the base', async () => {
    const s = await scenario('ssa'); // applies the base's policy as an operator does, then starts
    // One line at least, so the global teardown's secret scan has a log of this run to read.
    s.app.log.info({ policy: POLICY_NAME }, 'pod-identity policy checked at start');
    const before = await Promise.all(KINDS.map((k) => meta(k)));
    await ensureOwnNamespace(s.app); // the next start
    const after = await Promise.all(KINDS.map((k) => meta(k)));
    expect(after.map((m) => m.resourceVersion)).toEqual(before.map((m) => m.resourceVersion));
    for (const m of after) expect(m.managedFields.map((f) => f.manager)).not.toContain(FIELD_MANAGER);
    const r = await operatorApply(shipped, '--dry-run=server');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it("an upgrade: the operator applies a newer base over the running release's policy", async () => {
    const s = await scenario('ssa-upgrade');
    s.app.log.info({ policy: POLICY_NAME }, 'pod-identity policy checked at start');
    const text = readFileSync(shipped, 'utf8');
    const newer = text.replace('must set readOnly: true"', 'must set readOnly: true (next release)"');
    expect(newer).not.toBe(text);
    const file = join(scratch, 'newer.yaml');
    writeFileSync(file, newer);
    const r = await operatorApply(file, '--dry-run=server');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('kubeusers created the policy (it was missing), and the operator applies the same base', async () => {
    // On copies under another name, so the shared policy is never missing for other tests. The
    // copies have the real one's content: enforcing them twice for a moment changes nothing.
    const name = `${POLICY_NAME}-ssa-copy`;
    const copies = podIdentityPolicy().map((o) => {
      const spec = (o as { spec: Record<string, unknown> }).spec;
      return {
        ...o,
        metadata: { ...o.metadata, name },
        spec: 'policyName' in spec ? { ...spec, policyName: name } : spec,
      } as KubernetesObject;
    });
    const s = await scenario('ssa-created');
    s.app.log.info({ policy: name }, 'pod-identity policy copy created');
    try {
      for (const o of copies) expect(await createIfMissing(s.app.clients, o)).toBe(true);
      for (const o of copies) expect(await createIfMissing(s.app.clients, o)).toBe(false);
      const file = join(scratch, 'copy.yaml');
      writeFileSync(file, copies.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
      const r = await operatorApply(file);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // Both own the same content: kubeusers from its create, kubectl from its apply.
      for (const k of KINDS)
        expect((await meta(k, name)).managedFields.map((f) => f.manager).sort()).toEqual(
          [FIELD_MANAGER, 'kubectl'].sort(),
        );
    } finally {
      for (const k of [...KINDS].reverse())
        await kubectl(testEnv().kube.adminKubeconfig, ['delete', k, name, '--ignore-not-found']);
    }
  });
});
