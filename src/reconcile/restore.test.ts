import { describe, expect, it } from '@jest/globals';
import { Counter, Registry } from 'prom-client';
import type { CacheChange } from '../cluster/cache.ts';
import type { EventSink, EventSpec } from '../cluster/events.ts';
import type { Clients } from '../cluster/client.ts';
import { makeLogger } from '../log.ts';
import { restoreForeignChanges } from './restore.ts';

function setup(leading: boolean) {
  const listeners: ((c: CacheChange) => void)[] = [];
  const events: EventSpec[] = [];
  const runs: string[] = [];
  let finish: () => void = () => undefined;
  const timers: (() => void)[] = [];
  const foreign = new Counter({ name: 'f', help: 'f', labelNames: ['kind'], registers: [new Registry()] });
  const recorder: EventSink = { record: (e) => (events.push(e), Promise.resolve()) };
  const stop = restoreForeignChanges({
    clients: {} as Clients,
    clock: { now: () => new Date(0) },
    log: makeLogger('error'),
    recorder,
    ownNamespace: 'kubeusers',
    foreign,
    backoff: new Counter({ name: 'b', help: 'b', labelNames: ['kind'], registers: [new Registry()] }),
    backoffSettings: { firstDelayMs: 1000, maxDelayMs: 60_000 },
    after: (_ms, fn) => (timers.push(fn), () => undefined),
    cache: {
      onChange: (l) => (listeners.push(l), () => undefined),
      foreign: (c) => c.type !== 'ADDED',
    },
    sync: (a) => {
      if (!leading) return undefined;
      runs.push(a.name);
      return new Promise<void>((r) => (finish = r));
    },
  });
  const change = (type: CacheChange['type'], name = 'a'): void => {
    for (const l of listeners)
      l({
        kind: 'ResourceQuota',
        type,
        account: { kind: 'tool', name },
        observed: {
          after: {
            kind: 'ResourceQuota',
            name: 'kubeusers',
            namespace: `tool-${name}`,
            digest: 'x',
            terminating: false,
          },
        },
      });
  };
  const fire = (): void => {
    for (const fn of timers.splice(0)) fn();
  };
  return { change, events, runs, foreign, stop, finish: () => finish(), fire };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('restoreForeignChanges', () => {
  it('syncs the account at once, tells it once, counts every change, and once more for changes during the run', async () => {
    const t = setup(true);
    t.change('MODIFIED');
    t.change('MODIFIED');
    t.change('DELETED');
    expect(t.runs).toEqual(['a']);
    expect(t.events.map((e) => [e.reason, e.namespace])).toEqual([['ChangedElsewhere', 'tool-a']]);
    expect((await t.foreign.get()).values[0]?.value).toBe(3);
    t.finish();
    await tick();
    // The change that came during the run is likely the other writer answering it: it waits.
    expect(t.runs).toEqual(['a']);
    t.fire();
    expect(t.runs).toEqual(['a', 'a']);
    t.finish();
    await tick();
    expect(t.runs).toEqual(['a', 'a']);
  });

  it('ignores what is not foreign', () => {
    const t = setup(true);
    t.change('ADDED');
    expect(t.runs).toEqual([]);
  });

  it('does nothing and tells nothing on a replica that does not sync', async () => {
    const t = setup(false);
    t.change('MODIFIED');
    t.change('MODIFIED');
    expect(t.events).toEqual([]);
    expect((await t.foreign.get()).values).toEqual([]);
  });

  it('a writer that rewrites at once after every restore does not get a sync per change (backoff)', async () => {
    // A fake loop: syncs finish when told, time moves only when the test moves it.
    let now = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const listeners: ((c: CacheChange) => void)[] = [];
    const events: EventSpec[] = [];
    const runs: number[] = [];
    let finish: () => void = () => undefined;
    const registry = new Registry();
    const foreign = new Counter({ name: 'f', help: 'f', labelNames: ['kind'], registers: [registry] });
    const backoff = new Counter({ name: 'b', help: 'b', labelNames: ['kind'], registers: [registry] });
    restoreForeignChanges({
      clients: {} as Clients,
      clock: { now: () => new Date(now) },
      log: makeLogger('error'),
      recorder: { record: (e) => (events.push(e), Promise.resolve()) },
      ownNamespace: 'kubeusers',
      foreign,
      backoff,
      backoffSettings: { firstDelayMs: 1000, maxDelayMs: 60_000 },
      after: (ms, fn) => {
        const t = { at: now + ms, fn };
        timers.push(t);
        return () => void timers.splice(timers.indexOf(t), 1);
      },
      cache: { onChange: (l) => (listeners.push(l), () => undefined), foreign: () => true },
      sync: () => {
        runs.push(now);
        return new Promise<void>((r) => (finish = r));
      },
    });
    const advance = async (to: number): Promise<void> => {
      for (;;) {
        const due = timers.filter((t) => t.at <= to).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers.splice(timers.indexOf(due), 1);
        now = due.at;
        due.fn();
        await tick();
      }
      now = to;
    };
    // Ten turns in one second: each sync restores, and the other writer answers 100 ms later.
    for (let i = 0; i < 10; i++) {
      await advance(i * 100);
      for (const l of listeners)
        l({
          kind: 'ResourceQuota',
          type: 'MODIFIED',
          account: { kind: 'tool', name: 'a' },
          observed: {
            after: {
              kind: 'ResourceQuota',
              name: 'kubeusers',
              namespace: 'tool-a',
              digest: 'x',
              terminating: false,
            },
          },
        });
      finish();
      await tick();
    }
    await advance(999);
    expect(runs.length).toBeLessThanOrEqual(2);
    expect(events.filter((e) => e.reason === 'ChangedElsewhere')).toHaveLength(1);
    expect((await foreign.get()).values[0]?.value).toBe(10);
    expect((await backoff.get()).values[0]?.value).toBe(1);
  });
});
