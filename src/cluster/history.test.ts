import { describe, expect, it } from '@jest/globals';
import type { Clients, Streamed } from './client.ts';
import { makeLogger } from '../log.ts';
import { AccountHistory, EVENTS_SHOWN, eventAccount, type HistoryOptions } from './history.ts';
import type { WatchedItem } from './watch.ts';

const o: HistoryOptions = { ownNamespace: 'kubeusers', namespacePrefix: 'tool-', selector: 'x=y' };

const event = (namespace: string, involved: string, extra: Record<string, unknown> = {}): WatchedItem => ({
  metadata: { name: `${involved}.${Math.random().toString(16).slice(2)}`, namespace, resourceVersion: '2' },
  involvedObject: { name: involved },
  ...extra,
});

describe('eventAccount', () => {
  const cases: [string, WatchedItem, string | undefined][] = [
    ["a tool's, in its namespace", event('tool-alpha', 'tool-alpha'), 'tool/alpha'],
    ["a tool's, about another object there", event('tool-alpha', 'kubeusers'), 'tool/alpha'],
    [
      "an admin's, on its state in kubeusers' namespace",
      event('kubeusers', 'state-admin-boss'),
      'admin/boss',
    ],
    ["kubeusers' own, on its namespace", event('kubeusers', 'kubeusers'), undefined],
    ["a tool's state: not an admin's", event('kubeusers', 'state-tool-alpha'), undefined],
    ['no admin name', event('kubeusers', 'state-admin-'), undefined],
    ['a namespace outside the prefix', event('other-alpha', 'other-alpha'), undefined],
    ['the bare prefix', event('tool-', 'tool-'), undefined],
  ];
  it.each(cases)('%s', (_name, item, want) => {
    expect(eventAccount(item, o)).toBe(want);
  });
});

/** One list per path, as given; each watch then fed by the test, by path. */
function fakeClients(lists: Record<string, WatchedItem[]>) {
  const watches = new Map<string, (line: unknown) => void>();
  const clients = {
    getJson: (path: string) =>
      Promise.resolve({ metadata: { resourceVersion: '1' }, items: lists[path.split('?')[0]!] ?? [] }),
    stream: (path: string, signal: AbortSignal): Promise<Streamed> => {
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          signal.addEventListener('abort', () => c.error(new Error('aborted')), { once: true });
          watches.set(path.split('?')[0]!, (ev) =>
            c.enqueue(new TextEncoder().encode(`${JSON.stringify(ev)}\n`)),
          );
        },
      });
      return Promise.resolve({ status: 200, body });
    },
  } as unknown as Clients;
  return { clients, watches };
}

const EVENTS = '/api/v1/events';
const LEDGER = '/api/v1/namespaces/kubeusers/configmaps';
const revocation = (serial: string, account: string, time: string, rv = '2'): WatchedItem => ({
  metadata: { name: `revocation-${serial}`, namespace: 'kubeusers', resourceVersion: rv },
  data: { serial, fingerprint: `fp-${serial}`, kind: 'tool', account, epoch: '1', time },
});

async function started(lists: Record<string, WatchedItem[]>) {
  const { clients, watches } = fakeClients(lists);
  const h = new AccountHistory(o, { clients, log: makeLogger('error') });
  await h.start();
  for (let i = 0; i < 500 && !(h.synced() && watches.size === 2); i++)
    await new Promise((r) => setTimeout(r, 5));
  return { h, watches };
}

const settle = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('AccountHistory', () => {
  it("keeps each account's newest Events, at most EVENTS_SHOWN, newest first, and follows the watch", async () => {
    const many = Array.from({ length: EVENTS_SHOWN + 5 }, (_, i) =>
      event('tool-alpha', 'tool-alpha', {
        reason: `R${i}`,
        message: `m${i}`,
        lastTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString().replace('.000', ''),
      }),
    );
    const { h, watches } = await started({
      [EVENTS]: [...many, event('tool-beta', 'tool-beta', { reason: 'B' })],
    });
    const shown = h.events('tool', 'alpha');
    expect(shown).toHaveLength(EVENTS_SHOWN);
    expect(shown[0]).toEqual({ time: '2026-01-01T00:00:24.000Z', reason: 'R24', message: 'm24' });
    expect(h.events('tool', 'beta').map((e) => e.reason)).toEqual(['B']);
    expect(h.events('admin', 'alpha')).toEqual([]);

    const fresh = event('tool-beta', 'tool-beta', { reason: 'C', lastTimestamp: '2027-01-01T00:00:00Z' });
    watches.get(EVENTS)!({
      type: 'ADDED',
      object: { ...fresh, metadata: { ...fresh.metadata, resourceVersion: '3' } },
    });
    await settle(() => h.events('tool', 'beta').length === 2);
    expect(h.events('tool', 'beta').map((e) => e.reason)).toEqual(['C', 'B']);
    // Expired by the apiserver's TTL: gone from the answer.
    watches.get(EVENTS)!({
      type: 'DELETED',
      object: { ...fresh, metadata: { ...fresh.metadata, resourceVersion: '4' } },
    });
    await settle(() => h.events('tool', 'beta').length === 1);
    expect(h.events('tool', 'beta').map((e) => e.reason)).toEqual(['B']);
    await h.stop();
  });

  it('answers the ledger by account, in whole, and by serial or fingerprint, as the watch moves', async () => {
    const { h, watches } = await started({
      [LEDGER]: [
        revocation('a1', 'alpha', '2026-01-01T00:00:00Z'),
        revocation('b1', 'beta', '2026-01-02T00:00:00Z'),
      ],
    });
    expect(h.revocations({ kind: 'tool', account: 'alpha' }).map((r) => r.serial)).toEqual(['a1']);
    expect(h.revocations().map((r) => r.serial)).toEqual(['b1', 'a1']);
    expect(h.revoked('a1', 'other')).toBe(true);
    expect(h.revoked('zz', 'fp-zz')).toBe(false);

    watches.get(LEDGER)!({ type: 'ADDED', object: revocation('a2', 'alpha', '2026-01-03T00:00:00Z', '3') });
    await settle(() => h.revoked('a2', ''));
    expect(h.revocations({ kind: 'tool', account: 'alpha' }).map((r) => r.serial)).toEqual(['a2', 'a1']);
    // Pruned once the certificate expired.
    watches.get(LEDGER)!({ type: 'DELETED', object: revocation('a1', 'alpha', '2026-01-01T00:00:00Z', '4') });
    await settle(() => !h.revoked('a1', ''));
    expect(h.revocations({ kind: 'tool', account: 'alpha' }).map((r) => r.serial)).toEqual(['a2']);
    await h.stop();
  });
});
