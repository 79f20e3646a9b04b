import { describe, expect, it } from '@jest/globals';
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
  const watches: { push(line: unknown): void; end(): void; path: string }[] = [];
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
