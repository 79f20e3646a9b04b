// The directory side, incremental (issue 15): a changed entry reaches kubeusers as that entry and
// starts a sync of that one account, which reads one entry; changes outside the project's tools and
// admins start nothing; an LDAP restart in the middle converges with nothing removed. Proven by
// slapd's own log (debug level `stats`) and the apiserver's audit log, not by kubeusers' word.
import { appendFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, testEnv } from '../../env/index.ts';
import { auditOffset, auditedSince } from '../../env/audit.ts';
import { DirectoryFixture } from '../../env/directory.ts';
import { waitUntil } from '../../env/proc.ts';
import { startSlapd, type RunningLdap } from '../../env/slapd.ts';
import { SyncLoop } from '../../../src/reconcile/loop.ts';
import type { SyncResult } from '../../../src/reconcile/sync.ts';
import { kubeconfigOf, scenario, type Scenario } from '../support.ts';
import { bindsSince, searchesSince, slapdOffset } from './slapd-log.ts';

const P = 'inc';
let s: Scenario;
let ldap: RunningLdap;
let loop: SyncLoop;
const results: SyncResult[] = [];
const core = () => adminKubeConfig().makeApiClient(k8s.CoreV1Api);

interface Finished {
  accounts?: string[];
  changes: number;
  failures: number;
  directoryError?: string;
  undecided?: string[];
}

/** The loop's `sync finished` lines, in order. */
const finished = (): Finished[] =>
  s.logs.map((l) => JSON.parse(l) as { msg?: string } & Finished).filter((l) => l.msg === 'sync finished');

/** Waits for the first sync after the `after`-th that `match` accepts; returns every one up to it. */
async function syncsUntil(after: number, match: (f: Finished) => boolean): Promise<Finished[]> {
  await waitUntil('the sync', () => Promise.resolve(finished().slice(after).some(match)), {
    timeoutMs: 120_000,
  });
  const later = finished().slice(after);
  return later.slice(0, later.findIndex(match) + 1);
}

const about = (key: string) => (f: Finished) => !f.accounts || f.accounts.includes(key);
async function syncMetrics(): Promise<unknown[]> {
  const m = s.app.metrics;
  const values = await Promise.all([m.lastSuccess.get(), m.guardHeld.get(), m.skippedNow.get()]);
  return values.map((v) => v.values.filter((x) => x.labels.mode === undefined || x.labels.mode === 'sync'));
}

const oneAccountRuns = async (): Promise<number> =>
  (await s.app.metrics.syncRuns.get()).values
    .filter((v) => v.labels.mode === 'one')
    .reduce((sum, v) => sum + v.value, 0);

const adminGroup = (): string => `cn=${P}.admin,ou=servicegroups,${s.dir.shape.baseDn}`;
const logged = (text: string) => s.logs.filter((l) => l.includes(text)).length;

async function stateOf(kind: string, name: string): Promise<Record<string, string> | undefined> {
  try {
    const cm = await core().readNamespacedConfigMap({
      namespace: `kubeusers-${P}`,
      name: `state-${kind}-${name}`,
    });
    return cm.data;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  s = await scenario(
    P,
    {},
    {
      ownLdap: {
        tools: [
          { name: 'alpha', uidNumber: 53_001 },
          { name: 'beta', uidNumber: 53_002 },
        ],
      },
      ldapDebug: 'stats',
    },
  );
  ldap = s.ldap!;
  // As the daemon does: the cluster cache runs before the loop (a one-account sync's gather from memory).
  await s.app.cache.start();
  loop = new SyncLoop(s.app.sync, { intervalMs: 3_600_000, watchMs: 200, renewalCron: '0 0 1 1 *' });
  loop.onResult((_, r) => void (r && results.push(r)));
  loop.start();
  await syncsUntil(0, (f) => !f.accounts);
  await settled();
});

/**
 * The watch looked twice more (slapd's log) and every sync it queued has run: the first look also
 * reports the entries of the seconds before it (a margin for the clocks), which the first full sync
 * already covered.
 */
async function settled(): Promise<void> {
  const offset = slapdOffset(ldap.proc.log);
  const looks = () =>
    searchesSince(ldap.proc.log, offset).filter((r) => r.filter.includes('modifyTimestamp')).length;
  await waitUntil('two looks of the watch', () => Promise.resolve(looks() >= 2), { timeoutMs: 60_000 });
  await loop.trigger({ mode: 'plan' });
}

afterAll(async () => {
  await loop?.stop();
  await s?.app.cache.stop();
  await ldap?.stop();
});

describe('a changed directory entry', () => {
  it('provisions a new tool through a sync of that account alone, which reads one entry (slapd log)', async () => {
    const log = ldap.proc.log;
    const offset = slapdOffset(log);
    const n = finished().length;
    const fullSyncMetrics = await syncMetrics();
    const oneBefore = await oneAccountRuns();
    await s.dir.addTool({ name: 'gamma', uidNumber: 53_003 });
    const syncs = await syncsUntil(n, about('tool/gamma'));
    expect(syncs.map((f) => f.accounts)).toEqual([['tool/gamma']]);
    // The full sync's metrics (last success, guard held: what the alerts read) are the full sync's alone.
    expect(await syncMetrics()).toEqual(fullSyncMetrics);
    expect(await oneAccountRuns()).toBe(oneBefore + 1);
    expect(syncs[0]).toMatchObject({ failures: 0 });
    expect(existsSync(kubeconfigOf(join(s.homesRoot, 'gamma')))).toBe(true);
    // Besides the watch's own looks (modifyTimestamp searches, the group's member list), slapd
    // returned exactly one entry with attributes: gamma's. The uid-number check asks for none (1.1).
    const group = adminGroup().toLowerCase();
    const reads = searchesSince(log, offset).filter(
      (r) => !r.filter.includes('modifyTimestamp') && !(r.base.toLowerCase() === group && r.attrs !== '1.1'),
    );
    const withAttributes = reads.filter((r) => r.attrs !== '1.1' && r.nentries > 0);
    expect(withAttributes.map((r) => [r.filter, r.nentries])).toEqual([
      [expect.stringContaining(`(cn=${P}.gamma)`), 1],
    ]);
    expect(reads.reduce((sum, r) => sum + (r.attrs === '1.1' ? 0 : r.nentries), 0)).toBe(1);
  });

  it('provisions a new tool with no list request to Kubernetes (audit log; served by the cluster cache)', async () => {
    const offset = auditOffset();
    const n = finished().length;
    await s.dir.addTool({ name: 'delta', uidNumber: 53_004 });
    const syncs = await syncsUntil(n, about('tool/delta'));
    expect(syncs.map((f) => f.accounts)).toEqual([['tool/delta']]);
    expect(existsSync(kubeconfigOf(join(s.homesRoot, 'delta')))).toBe(true);
    const lists = auditedSince(offset, `kubeusers-${P}`).filter((r) => r.verb === 'list');
    expect(lists).toEqual([]);
  });

  it("starts nothing for another project's tool or a person who is not an admin", async () => {
    const n = finished().length;
    const other = new DirectoryFixture({ ...ldap.info, shape: { ...s.dir.shape, project: `${P}other` } });
    await other.addTool({ name: 'zeta', project: `${P}other`, uidNumber: 53_101 });
    const nobody = await s.dir.addUser({ user: 'nobody', uidNumber: 53_102 });
    await s.dir.replaceAttribute(nobody, 'description', ['changed']);
    // The watch looked after these changes (three looks, in slapd's own log) and nothing read the
    // directory but the watch: no sync started.
    const log = ldap.proc.log;
    const offset = slapdOffset(log);
    const looks = () => searchesSince(log, offset).filter((r) => r.filter.includes('modifyTimestamp'));
    await waitUntil('three looks of the watch', () => Promise.resolve(looks().length >= 3), {
      timeoutMs: 60_000,
    });
    const others = searchesSince(log, offset).filter((r) => !r.filter.includes('modifyTimestamp'));
    expect(others.filter((r) => r.base.toLowerCase() !== adminGroup().toLowerCase())).toEqual([]);
    // Then a change that does start a sync (beta locked): every sync up to it is beta's alone.
    await s.dir.lock(s.dir.toolDn('beta'));
    const syncs = await syncsUntil(n, about('tool/beta'));
    expect(syncs.map((f) => f.accounts)).toEqual([['tool/beta']]);
    expect((await stateOf('tool', 'beta'))?.status).toBe('locked');
  });

  it('provisions an admin added to the group by one sync; one taken out is left to a full read', async () => {
    await s.dir.addUser({ user: 'ann', uidNumber: 53_201 });
    let n = finished().length;
    await s.dir.addToAdminGroup('ann');
    const added = await syncsUntil(n, about('admin/ann'));
    expect(added.map((f) => f.accounts)).toEqual([['admin/ann']]);
    expect(existsSync(kubeconfigOf(join(s.adminHomesRoot, 'ann')))).toBe(true);
    n = finished().length;
    await s.dir.removeFromAdminGroup('ann');
    const removed = await syncsUntil(n, (f) => !f.accounts);
    expect(removed.at(-1)).toMatchObject({ failures: 0 });
    expect(await stateOf('admin', 'ann')).toBeUndefined();
  });

  it('converges after an LDAP restart in the middle, with nothing removed', async () => {
    const from = results.length;
    const down = logged('the directory cannot be read');
    const up = logged('the directory answers again');
    const n = finished().length;
    for (const [i, name] of ['eta', 'theta', 'iota'].entries())
      await s.dir.addTool({ name, uidNumber: 53_010 + i });
    // Stopped once the first of the three syncs is done: the others run while it is down, or after.
    await syncsUntil(n, (f) => f.accounts?.[0] === 'tool/eta' || !f.accounts);
    await ldap.stop();
    await waitUntil(
      'the watch to see the outage',
      () => Promise.resolve(logged('the directory cannot be read') > down),
      {
        timeoutMs: 60_000,
      },
    );
    const beforeRestart = finished().length;
    const port = (url: string): number => Number(new URL(url).port);
    ldap = await startSlapd(
      dirname(ldap.proc.log),
      ldap.info.shape,
      {},
      {
        reuse: true,
        port: port(ldap.info.url),
        tlsPort: port(ldap.info.ldapsUrl),
        debug: 'stats',
      },
    );
    appendFileSync(join(testEnv().dir, 'pids'), `${ldap.proc.pid}\n`);
    expect(ldap.info.url).toBe(s.settings.ldap.servers[0]);
    await waitUntil(
      'the watch to see the directory again',
      () => Promise.resolve(logged('the directory answers again') > up),
      {
        timeoutMs: 60_000,
      },
    );
    const full = await syncsUntil(beforeRestart, (f) => !f.accounts && !f.directoryError);
    expect(full.at(-1)).toMatchObject({ failures: 0 });
    for (const name of ['alpha', 'beta', 'gamma', 'delta', 'eta', 'theta', 'iota'])
      expect([name, (await stateOf('tool', name))?.status]).toEqual([
        name,
        expect.stringMatching(/active|locked/),
      ]);
    const removals = results
      .slice(from)
      .flatMap((r) => r.done)
      .filter((d) => / delete |forget the account/.test(d));
    expect(removals).toEqual([]);
    const during = finished().slice(n, beforeRestart);
    process.stderr.write(
      `syncs while slapd stopped: ${during.filter((f) => f.directoryError).length} of ${during.length} could not read it\n`,
    );
  });
});

describe('an entry gone from the directory', () => {
  it('is never removed by a one-account sync: left to the full read, which removes it', async () => {
    await s.dir.addTool({ name: 'kappa', uidNumber: 53_020 });
    await s.sync({ only: new Set(['tool/kappa']) });
    expect((await stateOf('tool', 'kappa'))?.status).toBe('active');
    await s.dir.deleteTool('kappa');
    const one = await s.sync({ only: new Set(['tool/kappa']) });
    expect(one).toMatchObject({ done: [], failures: [], undecided: ['tool/kappa: not-found'] });
    expect((await stateOf('tool', 'kappa'))?.status).toBe('active');
    const full = await s.sync();
    expect(full.done).toContain('tool/kappa: forget the account (the home is kept)');
    expect(await stateOf('tool', 'kappa')).toBeUndefined();
  });
});

describe("the watch's connection", () => {
  it('is kept: many looks and the one-entry read of a new tool, without a bind each (slapd log)', async () => {
    const log = ldap.proc.log;
    const offset = slapdOffset(log);
    const n = finished().length;
    await s.dir.addTool({ name: 'lambda', uidNumber: 53_030 });
    await syncsUntil(n, about('tool/lambda'));
    const looks = () => searchesSince(log, offset).filter((r) => r.filter.includes('modifyTimestamp')).length;
    await waitUntil('five looks', () => Promise.resolve(looks() >= 5), { timeoutMs: 60_000 });
    const service = ldap.info.serviceDn.toLowerCase();
    const binds = bindsSince(log, offset).filter((dn) => dn.toLowerCase() === service).length;
    // A kept connection may be renewed once in the window (its age limit), never once a look.
    expect({ looks: looks() >= 5, bindsAtMostOne: binds <= 1, binds }).toMatchObject({
      looks: true,
      bindsAtMostOne: true,
    });
  });
});
