import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { KubeApiError, sendJson, type Send, type Transport } from './http.ts';

/** A transport of our own that answers every request with this status and body. */
function answering(status: number, body: string): Transport {
  return {
    server: 'https://k8s.example',
    open: () =>
      Promise.resolve(
        Object.assign(Readable.from(body ? [Buffer.from(body)] : []), {
          statusCode: status,
        }) as unknown as IncomingMessage,
      ),
  };
}

describe('sendJson: only 2xx with a body is success', () => {
  const refused: [string, Send, number, string][] = [
    [
      'a redirect with no body (a proxy sending to its login page)',
      { method: 'DELETE', path: '/x' },
      302,
      '',
    ],
    ['a redirect with a JSON body', { method: 'PATCH', path: '/x', body: {} }, 307, '{"kind":"Status"}'],
    ['a 1xx-ish status with a body', { method: 'GET', path: '/x' }, 199, '{}'],
  ];
  it.each(refused)('%s is a KubeApiError with the status', async (_, s, status, body) => {
    const err = await sendJson(answering(status, body), s).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(status);
  });

  const empty: [string, Send, number][] = [
    ['200 to a GET', { method: 'GET', path: '/x' }, 200],
    ['201 to a POST', { method: 'POST', path: '/x', body: {} }, 201],
    ['200 to a DELETE', { method: 'DELETE', path: '/x' }, 200],
  ];
  it.each(empty)('an empty body: %s is an error', async (_, s, status) => {
    const err = await sendJson(answering(status, ''), s).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).reason).toBe('empty-answer');
  });

  it('204 to a DELETE is nothing, as callers expect', async () => {
    expect(await sendJson(answering(204, ''), { method: 'DELETE', path: '/x' })).toEqual({});
  });

  it('200 with JSON is the JSON', async () => {
    expect(await sendJson(answering(200, '{"a":1}'), { method: 'GET', path: '/x' })).toEqual({ a: 1 });
  });
});
