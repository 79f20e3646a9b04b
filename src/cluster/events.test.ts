import { describe, expect, it } from '@jest/globals';
import { ApiException, type CoreV1Event } from '@kubernetes/client-node';
import { makeLogger } from '../log.ts';
import {
  DEFAULT_RECORDER,
  deliveryOf,
  EventRecorder,
  retryDelayMs,
  type Delivery,
  type DropReason,
  type EventSpec,
  type RecorderSettings,
} from './events.ts';

const api = (status: number): ApiException<string> => new ApiException(status, 'x', '', {});

describe('deliveryOf', () => {
  const cases: [string, unknown, Delivery][] = [
    ['no answer (the API server is down)', Object.assign(new Error('connect ECONNREFUSED'), {}), 'retry'],
    ['throttled', api(429), 'retry'],
    ['a server error', api(503), 'retry'],
    ['an authorizer still starting after a restart', api(403), 'retry'],
    ['an authenticator still starting after a restart', api(401), 'retry'],
    ['created by an attempt whose answer was lost', api(409), 'delivered'],
    ['its namespace is gone', api(404), 'drop'],
    ['an invalid object', api(422), 'drop'],
    ['a bad request', api(400), 'drop'],
  ];
  it.each(cases)('%s', (_, err, want) => expect(deliveryOf(err)).toBe(want));
});

describe('retryDelayMs', () => {
  const s: RecorderSettings = { ...DEFAULT_RECORDER, initialBackoffMs: 100, maxBackoffMs: 1_000 };
  const cases: [number, number][] = [
    [1, 100],
    [2, 200],
    [4, 800],
    [5, 1_000],
    [50, 1_000],
  ];
  it.each(cases)('after %i failure(s): %i ms', (failures, ms) => expect(retryDelayMs(failures, s)).toBe(ms));
});

const spec = (name: string): EventSpec => ({
  namespace: 'ns',
  regarding: { apiVersion: 'v1', kind: 'Namespace', name, namespace: 'ns' },
  reason: 'CertificateIssued',
  action: 'CertificateIssued',
  note: `certificate of ${name}`,
});

/** An API server that is down for the first `down` attempts. */
function flakyApi(down: number): {
  send: (ns: string, body: CoreV1Event) => Promise<void>;
  created: string[];
  attempts: number;
} {
  const state = {
    created: [] as string[],
    attempts: 0,
    send: (_ns: string, body: CoreV1Event): Promise<void> => {
      state.attempts++;
      if (state.attempts <= down) return Promise.reject(new Error('connect ECONNREFUSED'));
      if (state.created.includes(body.metadata.name!)) return Promise.reject(api(409));
      state.created.push(body.metadata.name!);
      return Promise.resolve();
    },
  };
  return state;
}

function recorder(
  send: (ns: string, body: CoreV1Event) => Promise<void>,
  settings: Partial<RecorderSettings> = {},
  hold?: Promise<void>,
): { r: EventRecorder; dropped: DropReason[]; sleeps: number[]; lines: string[] } {
  const dropped: DropReason[] = [];
  const sleeps: number[] = [];
  const lines: string[] = [];
  const log = makeLogger('info', {
    write: (l: string) => {
      lines.push(l);
    },
  });
  const clock = { t: 0 };
  const r = new EventRecorder({
    send,
    clock: { now: () => new Date(clock.t) },
    log,
    settings: { ...DEFAULT_RECORDER, workers: 1, ...settings },
    observer: { dropped: (reason) => dropped.push(reason) },
    sleep: async (ms) => {
      sleeps.push(ms);
      await hold;
      clock.t += ms;
    },
  });
  return { r, dropped, sleeps, lines };
}

describe('EventRecorder', () => {
  it('delivers every event across an outage, with backoff, once each, and says so in two lines', async () => {
    const apiServer = flakyApi(5);
    const { r, sleeps, dropped, lines } = recorder(apiServer.send);
    const waits = ['a', 'b', 'c'].map((n) => r.record(spec(n)));
    await Promise.all(waits);
    expect(await r.flush(1_000)).toBe(0);
    expect(apiServer.created).toHaveLength(3);
    expect(sleeps).toEqual([250, 500, 1_000, 2_000, 4_000]);
    expect(dropped).toEqual([]);
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
      'events wait: the API server does not take them now; retrying with backoff',
      'events are delivered again',
    ]);
  });

  it('keeps at most maxQueued events, dropping the oldest', async () => {
    const apiServer = flakyApi(3);
    const { r, dropped } = recorder(apiServer.send, { maxQueued: 2 });
    for (const n of ['a', 'b', 'c', 'd']) void r.record(spec(n));
    expect(await r.flush(1_000)).toBe(0);
    // `a` went to the worker at once; of b, c, d waiting in a queue of two, b was dropped.
    expect(dropped).toEqual(['overflow']);
    expect(apiServer.created).toHaveLength(3);
  });

  it('drops an event the API server will never take, and one older than maxAgeMs', async () => {
    const refused = recorder(() => Promise.reject(api(404)));
    await refused.r.record(spec('gone'));
    expect(refused.dropped).toEqual(['refused']);
    const old = recorder(() => Promise.reject(new Error('down')), { maxAgeMs: 1_000 });
    await old.r.record(spec('old'));
    expect(await old.r.flush(1_000)).toBe(0);
    expect(old.dropped).toEqual(['too-old']);
  });

  it('resolves every caller whose event was in flight when the API server stopped taking them', async () => {
    // Two workers send at once and both fail: the second failure is not the first of the outage,
    // and its caller waited until delivery (a sync hung while RBAC refused events).
    let release: () => void = () => undefined;
    const hold = new Promise<void>((r) => (release = r));
    const { r } = recorder(() => Promise.reject(api(403)), { workers: 2 }, hold);
    const resolved: string[] = [];
    for (const n of ['a', 'b']) void r.record(spec(n)).then(() => resolved.push(n));
    // Both attempts have failed and both workers wait in their backoff (held) by now.
    for (let i = 0; i < 10; i++) await new Promise((next) => setImmediate(next));
    expect(resolved.sort()).toEqual(['a', 'b']);
    expect(r.pending).toBe(2);
    release();
  });

  it('resolves a caller at once while the API server is down', async () => {
    let release: () => void = () => undefined;
    const hold = new Promise<void>((r) => (release = r));
    const apiServer = flakyApi(1);
    const { r } = recorder(apiServer.send, {}, hold);
    // The first attempt fails: its caller goes on, and so does every caller after it.
    await r.record(spec('first'));
    await r.record(spec('second'));
    expect(r.pending).toBe(2);
    release();
    expect(await r.flush(1_000)).toBe(0);
    expect(apiServer.created).toHaveLength(2);
  });
});
