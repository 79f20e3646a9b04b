// A leader whose lease renewal is refused keeps leading until its renew deadline, as client-go's does:
// one refused write (a 429 under load, a 500 from etcd) must not drop the lease in the middle of an
// issuance. The refusal is the real API server's: an admission policy denying the lease's updates.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LeaderElector } from '../../../src/cluster/leader.ts';
import { makeLogger } from '../../../src/log.ts';
import { kubectl, testEnv } from '../../env/index.ts';
import { scenario, type Scenario } from '../support.ts';

let s: Scenario;
const POLICY = 'kubeusers-lr-deny-lease-updates';

beforeAll(async () => {
  s = await scenario('lr');
});

afterAll(async () => {
  await deny(false);
});

/** Denies (or stops denying) every update of a lease named `refused-*` in the scenario's namespace. */
async function deny(on: boolean): Promise<void> {
  const admin = s.env.kube.adminKubeconfig;
  if (!on) {
    for (const kind of ['validatingadmissionpolicybinding', 'validatingadmissionpolicy'])
      await kubectl(admin, ['delete', kind, POLICY, '--ignore-not-found']);
    const ns = s.settings.kubernetes.namespace;
    await kubectl(admin, ['-n', ns, 'delete', 'lease', 'refused-probe', '--ignore-not-found']);
    return;
  }
  const file = join(testEnv().dir, `${POLICY}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicy',
          metadata: { name: POLICY },
          spec: {
            failurePolicy: 'Fail',
            matchConstraints: {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': s.settings.kubernetes.namespace },
              },
              resourceRules: [
                {
                  apiGroups: ['coordination.k8s.io'],
                  apiVersions: ['v1'],
                  operations: ['UPDATE'],
                  resources: ['leases'],
                },
              ],
            },
            validations: [{ expression: "!object.metadata.name.startsWith('refused-')" }],
          },
        },
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicyBinding',
          metadata: { name: POLICY },
          spec: { policyName: POLICY, validationActions: ['Deny'] },
        },
      ],
    }),
  );
  const applied = await kubectl(admin, ['apply', '-f', file]);
  expect(applied.stderr).toBe('');
  // The API server takes a policy up a moment after it is written: until a probe lease's update is
  // refused by it, the elector's might not be.
  const ns = s.settings.kubernetes.namespace;
  const probe = join(testEnv().dir, `${POLICY}-probe.json`);
  const lease = (i: number): string =>
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'refused-probe', namespace: ns, annotations: { try: String(i) } },
      spec: {},
    });
  for (let i = 0; i < 600; i++) {
    writeFileSync(probe, lease(i));
    const r = await kubectl(admin, ['apply', '-f', probe]);
    if (/ValidatingAdmissionPolicy/.test(r.stderr)) return;
    // Created, or updated before the policy was in force: anything else is a broken setup.
    expect(r.stderr).toBe('');
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('the admission policy never refused the probe lease');
}

interface Watched {
  elector: LeaderElector;
  logs: string[];
  stopped: number[];
  started: number[];
}

function elector(name: string, timing: { deadlineMs: number; leaseMs: number }): Watched {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const stopped: number[] = [];
  const started: number[] = [];
  const elector = new LeaderElector(
    s.app.clients.kc,
    {
      namespace: s.settings.kubernetes.namespace,
      name,
      identity: `lr-${name}`,
      leaseDurationMs: timing.leaseMs,
      renewDeadlineMs: timing.deadlineMs,
      retryPeriodMs: 200,
    },
    makeLogger('debug', sink),
    { started: () => started.push(performance.now()), stopped: () => stopped.push(performance.now()) },
  );
  return { elector, logs, stopped, started };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const end = performance.now() + 60_000;
  while (!check()) {
    if (performance.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const refusals = (w: Watched): number =>
  w.logs.filter((l) => l.includes('"action":"lease"') && l.includes('still leading until the renew deadline'))
    .length;

describe('a refused lease renewal', () => {
  it('leaves the leader leading until its renew deadline, and renewing again ends the outage', async () => {
    const w = elector('refused-brief', { deadlineMs: 40_000, leaseMs: 60_000 });
    w.elector.start();
    try {
      await until(() => w.started.length === 1, 'leading');
      await deny(true);
      // Three refused renewals, or the leadership given up at the first: whichever comes first.
      await until(() => refusals(w) >= 3 || w.stopped.length > 0, 'three refused renewals');
      expect(w.stopped).toEqual([]);
      expect(w.elector.writable().ok).toBe(true);
      const warned = w.logs.find((l) => l.includes('could not renew'))!;
      expect(warned).toMatch(/"status":(403|422)/);
      await deny(false);
      await until(() => w.logs.some((l) => l.includes('renewed the lease again')), 'a renewal');
      expect(w.stopped).toEqual([]);
      expect(w.started).toHaveLength(1);
    } finally {
      await deny(false);
      await w.elector.stop();
    }
  });

  it('ends leadership at the renew deadline, not before, when every renewal is refused', async () => {
    const w = elector('refused-long', { deadlineMs: 3_000, leaseMs: 5_000 });
    w.elector.start();
    try {
      await until(() => w.started.length === 1, 'leading');
      await deny(true);
      await until(() => w.stopped.length > 0, 'the deadline');
      // Tried again every retry period, each refusal telling the time left, down to the deadline: the
      // last one while leading had less than a second left (a retry period and a request: ~0.2 s), then
      // one said it ended.
      const left = w.logs
        .filter((l) => l.includes('still leading until the renew deadline'))
        .map((l) => (JSON.parse(l) as { deadlineInMs: number }).deadlineInMs);
      expect(left.length).toBeGreaterThanOrEqual(3);
      expect(left).toEqual([...left].sort((a, b) => b - a));
      expect(left.at(-1)!).toBeLessThan(1_000);
      expect(w.logs.filter((l) => l.includes('by the renew deadline: no longer leading'))).toHaveLength(1);
      expect(w.logs.filter((l) => l.includes('"msg":"stopped leading"'))).toHaveLength(1);
      expect(w.elector.writable().ok).toBe(false);
    } finally {
      await deny(false);
      await w.elector.stop();
    }
  });
});
