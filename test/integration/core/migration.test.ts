// The migration from maintain-kubeusers, with homes in that daemon's exact formats (see
// migration-fixtures.ts): what is valid is adopted as it is (no CSR), what is due or expired is renewed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { certInfo } from '../../../src/pki/cert.ts';
import { adminKubeConfig, kubectl, testEnv } from '../../env/index.ts';
import { kubeconfigOf, scenario, scenarioInput, type Scenario } from '../support.ts';
import { auditOffset, auditedSince, csrCreates } from '../../env/audit.ts';
import {
  daysFrom,
  LegacyCa,
  seedLegacyCluster,
  seedLegacyHome,
  type ConfigMapStyle,
  type LegacyKeyFormat,
  type LegacyTool,
} from './migration-fixtures.ts';

const NS = 'kubeusers-mg';
let s: Scenario;
const admin = () => adminKubeConfig();

type Expect = 'adopted' | 'renewed';
/** name, uid, key format, ConfigMap style, issued (days from now), expires (days from now), expected. */
const CASES: [string, number, LegacyKeyFormat, ConfigMapStyle, number, number, Expect][] = [
  ['pkcs1', 58_001, 'rsa-4096-pkcs1', 'plain', -165, 200, 'adopted'],
  ['percm', 58_002, 'rsa-4096-pkcs1', 'per-tool', -30, 335, 'adopted'],
  ['rsa8', 58_003, 'rsa-2048-pkcs8', 'plain', -100, 265, 'adopted'],
  ['ecsec1', 58_004, 'ecdsa-p256-sec1', 'plain', -100, 265, 'adopted'],
  ['ec8', 58_005, 'ecdsa-p256-pkcs8', 'per-tool', -100, 265, 'adopted'],
  // Past 2/3 of its real lifetime: renewed on the first sync, like any certificate come due.
  ['near', 58_006, 'rsa-4096-pkcs1', 'plain', -360, 5, 'renewed'],
  ['expired', 58_007, 'rsa-4096-pkcs1', 'plain', -400, -1, 'renewed'],
];

const tools = new Map<string, LegacyTool>();
let firstSync: Awaited<ReturnType<Scenario['sync']>>;
let firstSyncOffset: number;

beforeAll(async () => {
  // As docs/migration.md step 1 says: the cluster name maintain-kubeusers used, so the context keeps its name.
  const base = scenarioInput(testEnv(), 'mg');
  s = await scenario('mg', { kubernetes: { ...base.kubernetes, clusterName: 'toolforge' } });
  const ca = new LegacyCa(2);
  const now = new Date();
  for (const [tool, uid, format, configMap, issued, expires] of CASES) {
    const key = await ca.key(format);
    const notBefore = daysFrom(now, issued);
    const notAfter = daysFrom(now, expires);
    const t: LegacyTool = {
      tool,
      uid,
      namespace: `mg-${tool}`,
      home: join(s.homesRoot, tool),
      certPem: await ca.sign(key, tool, notBefore, notAfter),
      keyPem: key.pem,
      notAfter,
      configMap,
    };
    tools.set(tool, t);
    await seedLegacyCluster(t, notBefore);
    seedLegacyHome(t);
    await s.dir.addTool({ name: tool, uidNumber: uid });
  }
  firstSyncOffset = auditOffset();
  firstSync = await s.sync();
}, 300_000);

async function stateOf(tool: string): Promise<Record<string, string>> {
  const cm = await admin()
    .makeApiClient(k8s.CoreV1Api)
    .readNamespacedConfigMap({ namespace: NS, name: `state-tool-${tool}` });
  return cm.data ?? {};
}

describe('migration from maintain-kubeusers', () => {
  it('the first sync succeeds', () => {
    expect(firstSync.failures).toEqual([]);
  });

  it('creates a CSR only for the certificates that are due or expired', () => {
    const csrs = csrCreates(auditedSince(firstSyncOffset, NS));
    expect(csrs).toHaveLength(CASES.filter((c) => c[6] === 'renewed').length);
  });

  const adopted = CASES.filter((c) => c[6] === 'adopted').map((c) => [c[0], c[2], c[3]] as const);
  it.each(adopted)('%s (%s key, %s ConfigMap): adopted as it is', async (tool) => {
    const t = tools.get(tool)!;
    expect(await stateOf(tool)).toMatchObject({
      status: 'active',
      serial: (await certInfo(t.certPem)).serial,
      legacyUser: tool,
    });
    expect(readFileSync(join(t.home, '.toolskube', 'client.crt'), 'utf8')).toBe(t.certPem);
    expect(readFileSync(join(t.home, '.toolskube', 'client.key'), 'utf8')).toBe(t.keyPem);
  });

  it.each(adopted)(
    "%s (%s key, %s ConfigMap): its kubeconfig works once kubeusers' binding is the only one",
    async (tool) => {
      const t = tools.get(tool)!;
      await admin()
        .makeApiClient(k8s.RbacAuthorizationV1Api)
        .deleteNamespacedRoleBinding({ namespace: t.namespace, name: `${tool}-tool-binding` });
      const r = await kubectl(kubeconfigOf(t.home), ['auth', 'can-i', 'create', 'configmaps']);
      expect(r.stdout.trim()).toBe('yes');
    },
  );

  const renewed = CASES.filter((c) => c[6] === 'renewed').map((c) => [c[0], c[5]] as const);
  it.each(renewed)('%s (expires in %d days): renewed on the first sync', async (tool) => {
    const t = tools.get(tool)!;
    const state = await stateOf(tool);
    expect(state.certEpoch).toBe('1');
    expect(state.serial).not.toBe((await certInfo(t.certPem)).serial);
    expect(state.legacyUser).toBeUndefined();
    const r = await kubectl(kubeconfigOf(t.home), ['auth', 'can-i', 'create', 'configmaps']);
    expect(r.stdout.trim()).toBe('yes');
  });

  it('leaves the adopted credentials alone on the next sync', async () => {
    const offset = auditOffset();
    const next = await s.sync();
    expect(next.done).toEqual([]);
    expect(csrCreates(auditedSince(offset, NS))).toEqual([]);
  });
});
