import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { createOpsApp } from './ops.ts';

/** The ops app on a free port, with a registry whose pieces the case chooses. */
async function serve(pieces: () => AsyncGenerator<string>): Promise<{ url: string; close: () => void }> {
  const app = createOpsApp({
    registry: { contentType: 'text/plain; version=0.0.4; charset=utf-8', pieces },
    readiness: () => ({ ready: true, checks: {} }),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/metrics`, close: () => server.close() };
}

describe('GET /metrics', () => {
  const cases: [string, string[]][] = [
    ['one piece', ['# HELP a x\n# TYPE a gauge\na 1\n']],
    ['many pieces, joined as they are', ['a 1\n', '\n\n# HELP b y', '\nb 2', '\n']],
    [
      'pieces past the socket buffer (backpressure)',
      Array.from({ length: 64 }, (_, i) => `${i}`.repeat(64 * 1024)),
    ],
  ];
  it.each(cases)('%s: the body is the pieces, in order', async (_name, parts) => {
    const s = await serve(async function* () {
      for (const p of parts) yield await Promise.resolve(p);
    });
    try {
      const res = await fetch(s.url);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await res.text()).toBe(parts.join(''));
    } finally {
      s.close();
    }
  });

  it('stops making pieces when the scraper goes away mid-page', async () => {
    let made = 0;
    let ended!: () => void;
    const finished = new Promise<void>((r) => (ended = r));
    const s = await serve(async function* () {
      try {
        // Far more than any socket buffer holds: only a reader that keeps reading gets them all.
        for (; made < 10_000; made++) yield await Promise.resolve('x'.repeat(64 * 1024));
      } finally {
        ended();
      }
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = request(s.url, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        // After the destroy an error is expected and changes nothing (the promise is settled).
        req.on('error', reject);
        req.end();
      });
      await finished;
      expect(made).toBeLessThan(10_000);
    } finally {
      s.close();
    }
  });
});
