// `GET /api/v1/accounts/<name>` answered from memory, as every replica of the daemon answers it: the
// account's state, its recent Events and its revocations come from the cluster cache's watches, so a
// GET makes no Kubernetes request (the apiserver's audit log says so), and what another replica does
// shows up within the watch's delay.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { auditedSince, auditOffset } from '../../env/audit.ts';
import { until } from '../../env/wait.ts';
import { scenario, type Scenario } from '../support.ts';
import { credentialsOf, startApi, type Caller, type RunningApi } from './support.ts';

const NS = 'kubeusers-ar';
let s: Scenario;
/** The replica under test: answers from its cache. */
let api: RunningApi;
/** Another replica, reading the cluster: what it does, the first must learn through its watches. */
let other: RunningApi;
let chief: Caller;

interface AccountReply {
  serial: string | null;
  audit: { reason: string; message: string }[];
  revocations: { serial: string }[];
}

beforeAll(async () => {
  s = await scenario('ar');
  for (const [i, t] of ['reader-a', 'reader-b', 'reader-c'].entries())
    await s.dir.addTool({ name: t, uidNumber: 64_000 + i });
  await s.dir.addUser({ user: 'arboss', uidNumber: 68_100 });
  await s.dir.addToAdminGroup('arboss');
  expect((await s.sync()).failures).toEqual([]);
  await s.app.cache.start();
  // The accounts' Events and revocations are watched apart from the objects (syncs never wait on
  // them): until they have listed too, a GET of an account is 503 `not-synced`, by design.
  await until(
    "the cache and the accounts' history synced",
    () => s.app.cache.synced() && s.app.cache.history.synced(),
  );
  api = await startApi(s, { requestsPerMinute: 100_000 }, s.app.cache);
  other = await startApi(s);
  chief = credentialsOf(join(s.adminHomesRoot, 'arboss'), '.admkube');
});

afterAll(async () => {
  await Promise.all([api, other].map((a) => a && new Promise<void>((r) => a.server.close(() => r()))));
  await s?.app.cache.stop();
});

const read = async (path: string): Promise<AccountReply> => {
  const r = await api.call('GET', path, chief);
  expect([r.status, r.text]).toEqual([200, expect.any(String)]);
  return r.body as AccountReply;
};

describe('GET accounts on a replica whose cache is synced', () => {
  it('pages through every account once, in order, by its cursor', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const q = cursor ? `&continue=${encodeURIComponent(cursor)}` : '';
      const r = await api.call('GET', `/api/v1/accounts?limit=2${q}`, chief);
      expect(r.status).toBe(200);
      const page = r.body as { items: { kind: string; name: string }[]; continue?: string };
      seen.push(...page.items.map((i) => `${i.kind}/${i.name}`));
      cursor = page.continue;
    } while (cursor);
    expect(seen).toEqual(['admin/arboss', 'tool/reader-a', 'tool/reader-b', 'tool/reader-c']);
  });
});

describe('GET accounts/<name> on a replica whose cache is synced', () => {
  it('reads no Kubernetes object: state, Events and revocations come from memory', async () => {
    const offset = auditOffset();
    const paths = ['reader-a', 'reader-b', 'reader-c', 'arboss?kind=admin'].map(
      (p) => `/api/v1/accounts/${p}`,
    );
    for (let round = 0; round < 3; round++)
      for (const p of paths) {
        const got = await read(p);
        // What a sync did for the account is there: its certificate's Event.
        expect(got.audit.map((e) => e.reason)).toContain('CertificateIssued');
      }
    // Authorization (a SubjectAccessReview per caller, verb and account, remembered) is not a read.
    const reads = auditedSince(offset)
      .filter((e) => e.agent.includes(`/${NS}/`) && e.resource !== 'subjectaccessreviews')
      .filter((e) => e.verb !== 'watch')
      .map((e) => `${e.agent.split('/')[0]} ${e.verb} ${e.uri}`);
    expect(reads).toEqual([]);
  });

  it("shows another replica's revocation and its Event within the watch's delay", async () => {
    const before = await read('/api/v1/accounts/reader-b');
    const r = await other.call('POST', '/api/v1/accounts/reader-b/revoke', chief, {
      reason: 'reads test',
      reissue: false,
    });
    expect(r.status).toBe(200);
    const serial = (r.body as { revoked: { serial: string } }).revoked.serial;
    expect(serial).toBe(before.serial);
    const seen = await until('the revocation in the answer', async () => {
      const got = await read('/api/v1/accounts/reader-b');
      const shown =
        got.revocations.some((x) => x.serial === serial) &&
        got.audit.some((e) => e.reason === 'CredentialRevoked' && e.message.includes(serial));
      return shown && got;
    });
    expect(seen.revocations.map((x) => x.serial)).toEqual([serial]);
  });
});
