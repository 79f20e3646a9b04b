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
  const foreign = new Counter({ name: 'f', help: 'f', labelNames: ['kind'], registers: [new Registry()] });
  const recorder: EventSink = { record: (e) => (events.push(e), Promise.resolve()) };
  const stop = restoreForeignChanges({
    clients: {} as Clients,
    clock: { now: () => new Date(0) },
    log: makeLogger('error'),
    recorder,
    ownNamespace: 'kubeusers',
    foreign,
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
  return { change, events, runs, foreign, stop, finish: () => finish() };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('restoreForeignChanges', () => {
  it('syncs the account at once, tells it once, and once more for changes during the run', async () => {
    const t = setup(true);
    t.change('MODIFIED');
    t.change('MODIFIED');
    t.change('DELETED');
    expect(t.runs).toEqual(['a']);
    expect(t.events.map((e) => [e.reason, e.namespace])).toEqual([['ChangedElsewhere', 'tool-a']]);
    expect((await t.foreign.get()).values[0]?.value).toBe(1);
    t.finish();
    await tick();
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
});
