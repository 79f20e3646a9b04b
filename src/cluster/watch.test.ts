import { describe, expect, it, jest } from '@jest/globals';
import type { Clients, Streamed } from './client.ts';
import { makeLogger } from '../log.ts';
import { diffListings, ListWatch, newer, type KindChange, type WatchedItem } from './watch.ts';

describe('newer', () => {
  const cases: [string, string, string | undefined, boolean][] = [
    ['nothing kept', '5', undefined, true],
    ['a later revision', '12', '9', true],
    ['the same revision (our own write, then its event)', '9', '9', false],
    ['an earlier revision arriving late', '8', '9', false],
    ['past 2^53', '9007199254740993', '9007199254740992', true],
    ['not an integer: taken', 'abc', '9', true],
  ];
  it.each(cases)('%s', (_name, event, kept, want) => expect(newer(event, kept)).toBe(want));
});

describe('diffListings', () => {
  const e = (record: string, rv = '1') => ({ rv, record });
  it('names what was added, changed and removed; a new resourceVersion alone is no change', () => {
    const before = new Map([
      ['a', e('x')],
      ['b', e('y')],
      ['c', e('z')],
    ]);
    const after = new Map([
      ['a', e('x', '7')],
      ['b', e('y2')],
      ['d', e('w')],
    ]);
    expect(diffListings(before, after)).toEqual([
      { type: 'MODIFIED', key: 'b', prev: 'y', next: 'y2' },
      { type: 'ADDED', key: 'd', next: 'w' },
      { type: 'DELETED', key: 'c', prev: 'z' },
    ]);
  });
});

/** A fake of our own Clients interface: a list answered from `items`, watches fed by the test. */
function fakeClients(items: () => WatchedItem[], rv: () => string) {
  const watches: { push(line: unknown): void; end(): void; fail(err: Error): void; path: string }[] = [];
  const clients = {
    getJson: (path: string) => {
      void path;
      return Promise.resolve({ metadata: { resourceVersion: rv() }, items: items() });
    },
    stream: (path: string, signal: AbortSignal): Promise<Streamed> => {
      let ctl!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
      signal.addEventListener('abort', () => ctl.error(new Error('aborted')), { once: true });
      watches.push({
        path,
        push: (o) => ctl.enqueue(new TextEncoder().encode(`${JSON.stringify(o)}\n`)),
        end: () => ctl.close(),
        fail: (err) => ctl.error(err),
      });
      return Promise.resolve({ status: 200, body });
    },
  } as unknown as Clients;
  return { clients, watches };
}

const item = (name: string, rv: string, value: string): WatchedItem => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  value,
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('ListWatch', () => {
  it('lists, follows events newer than what it holds, and lists again on 410 Gone', async () => {
    let listed = [item('a', '10', 'one'), item('b', '11', 'two')];
    let listRv = '11';
    const { clients, watches } = fakeClients(
      () => listed,
      () => listRv,
    );
    const lw = new ListWatch(
      { kind: 'Thing', path: '/things', labelSelector: 'x=y', record: (i) => i.value as string },
      { clients, log: makeLogger('error'), maxBackoffMs: 10 },
    );
    const changes: KindChange<string>[] = [];
    lw.onChange((c) => changes.push(c));
    await lw.start();
    expect(changes).toEqual([{ type: 'RELISTED', reason: 'start' }]);
    changes.length = 0;
    expect([...lw.records()]).toEqual(['one', 'two']);
    await until(() => watches.length === 1 && lw.synced());
    expect(watches[0]!.path).toContain('resourceVersion=11');
    expect(watches[0]!.path).toContain('allowWatchBookmarks=true');

    watches[0]!.push({ type: 'MODIFIED', object: item('a', '12', 'one-b') });
    // Our own write of b, taken at once, and its event after it: one change, not two.
    lw.wrote(item('b', '13', 'two-b'));
    watches[0]!.push({ type: 'MODIFIED', object: item('b', '13', 'two-b') });
    watches[0]!.push({ type: 'MODIFIED', object: item('a', '11', 'stale') });
    watches[0]!.push({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });
    await until(() => changes.length === 2);
    expect(changes).toEqual([
      { type: 'MODIFIED', key: 'ns/b', prev: 'two', next: 'two-b' },
      { type: 'MODIFIED', key: 'ns/a', prev: 'one', next: 'one-b' },
    ]);

    // The apiserver no longer has revision 20: a new list, told as the differences and a RELISTED.
    listed = [item('a', '30', 'one-b'), item('c', '31', 'three')];
    listRv = '31';
    watches[0]!.push({ type: 'ERROR', object: { kind: 'Status', code: 410 } });
    await until(() => changes.some((c) => c.type === 'RELISTED'));
    expect(changes.slice(2)).toEqual([
      { type: 'ADDED', key: 'ns/c', next: 'three' },
      { type: 'DELETED', key: 'ns/b', prev: 'two-b' },
      { type: 'RELISTED', reason: 'gone' },
    ]);
    await until(() => watches.length === 2);
    expect(watches[1]!.path).toContain('resourceVersion=31');

    // A watch the apiserver ends on time goes on from where it was, without a list.
    watches[1]!.push({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '40' } } });
    watches[1]!.end();
    await until(() => watches.length === 3);
    expect(watches[2]!.path).toContain('resourceVersion=40');
    expect(changes.filter((c) => c.type === 'RELISTED')).toHaveLength(1);

    await lw.stop();
    expect(lw.synced()).toBe(false);
  });
});

/** A fake whose watches all answer the same way; requests counted, at most `cap` answered. */
function failingClients(watch: 'refused' | 'throttled' | 'cut' | 'gone', cap = 100) {
  const counts = { lists: 0, watches: 0 };
  const clients = {
    getJson: () => {
      counts.lists++;
      return Promise.resolve({ metadata: { resourceVersion: '5' }, items: [] });
    },
    stream: (_path: string, signal: AbortSignal): Promise<Streamed> => {
      counts.watches++;
      const status = watch === 'refused' ? 403 : watch === 'throttled' ? 429 : 200;
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          signal.addEventListener('abort', () => c.error(new Error('aborted')), { once: true });
          // Past the cap the watch stays open: the code before the fix would otherwise spin forever.
          if (counts.lists + counts.watches > cap) return;
          if (watch === 'gone')
            c.enqueue(
              new TextEncoder().encode(`${JSON.stringify({ type: 'ERROR', object: { code: 410 } })}\n`),
            );
          if (watch === 'cut' || watch === 'gone') c.close();
        },
      });
      return Promise.resolve({ status: counts.lists + counts.watches > cap ? 200 : status, body });
    },
  } as unknown as Clients;
  return { clients, counts };
}

describe('ListWatch backoff', () => {
  // 10 s of a watch that never stays up: 0.5, 1, 2, 4 s between attempts, not one every 0.5 s or none.
  const cases: [string, 'refused' | 'throttled' | 'cut' | 'gone'][] = [
    ['watch refused every time (RBAC without watch)', 'refused'],
    ['watch throttled every time (429)', 'throttled'],
    ['watch cut at once by a proxy, no progress', 'cut'],
    ['410 Gone on every watch', 'gone'],
  ];
  it.each(cases)('%s', async (_name, watch) => {
    jest.useFakeTimers();
    try {
      const { clients, counts } = failingClients(watch);
      const lw = new ListWatch(
        { kind: 'Thing', path: '/things', labelSelector: 'x=y', record: () => 'r' },
        { clients, log: makeLogger('error') },
      );
      await lw.start();
      await jest.advanceTimersByTimeAsync(10_000);
      expect(counts.lists + counts.watches).toBeLessThanOrEqual(12);
      expect(counts.watches).toBeGreaterThanOrEqual(4);
      const stopped = lw.stop();
      await jest.advanceTimersByTimeAsync(0);
      await stopped;
    } finally {
      jest.useRealTimers();
    }
  });

  it('a first 410 lists again at once', async () => {
    let lists = 0;
    const { clients, watches } = fakeClients(
      () => (lists++, []),
      () => '5',
    );
    const lw = new ListWatch(
      { kind: 'Thing', path: '/things', labelSelector: 'x=y', record: () => 'r' },
      { clients, log: makeLogger('error') },
    );
    await lw.start();
    await until(() => watches.length === 1);
    const t = Date.now();
    watches[0]!.push({ type: 'ERROR', object: { kind: 'Status', code: 410 } });
    await until(() => watches.length === 2);
    expect(lists).toBe(2);
    expect(Date.now() - t).toBeLessThan(400);
    await lw.stop();
  });
});

describe('ListWatch on a watch the transport ends as dead (ETIMEDOUT: half-open, src/cluster/http.ts)', () => {
  it('is not live, and lists again (broken)', async () => {
    const relisted: string[] = [];
    const live: boolean[] = [];
    const { clients, watches } = fakeClients(
      () => [],
      () => '5',
    );
    const lw = new ListWatch(
      { kind: 'Thing', path: '/things', labelSelector: 'x=y', record: () => 'r' },
      {
        clients,
        log: makeLogger('error'),
        observer: { relisted: (_k, r) => relisted.push(r), live: (_k, l) => live.push(l) },
      },
    );
    await lw.start();
    await until(() => watches.length === 1);
    watches[0]!.fail(Object.assign(new Error('not ended'), { code: 'ETIMEDOUT' }));
    await until(() => watches.length === 2);
    expect(relisted).toEqual(['start', 'broken']);
    expect(live).toEqual([true, false, true]);
    await lw.stop();
  });
});

describe('ListWatch synced', () => {
  it('is not synced from the moment a 410 re-list starts until the watch after it is open', async () => {
    let release: (() => void) | undefined;
    const { clients, watches } = fakeClients(
      () => [],
      () => '5',
    );
    const getJson = clients.getJson.bind(clients);
    let lists = 0;
    (clients as { getJson: Clients['getJson'] }).getJson = (path, accept) =>
      ++lists === 1 ? getJson(path, accept) : new Promise((r) => (release = () => r(getJson(path, accept))));
    const lw = new ListWatch(
      { kind: 'Thing', path: '/things', labelSelector: 'x=y', record: () => 'r' },
      { clients, log: makeLogger('error') },
    );
    await lw.start();
    await until(() => watches.length === 1 && lw.synced());
    watches[0]!.push({ type: 'ERROR', object: { kind: 'Status', code: 410 } });
    await until(() => release !== undefined);
    expect(lw.synced()).toBe(false);
    release!();
    await until(() => watches.length === 2 && lw.synced());
    await lw.stop();
  });
});
