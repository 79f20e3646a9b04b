// The plain-HTTP operations port: liveness, readiness and Prometheus metrics.
import type { Writable } from 'node:stream';
import express, { type Express } from 'express';
import type { AccountsRegistry } from '../metrics/metrics.ts';

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

export interface OpsDeps {
  registry: Pick<AccountsRegistry, 'contentType' | 'pieces'>;
  readiness: () => Promise<Readiness> | Readiness;
}

/** Until the response takes more, or its connection is gone; no listener is left behind either way. */
function drained(res: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function createOpsApp(deps: OpsDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', async (_req, res) => {
    const r = await deps.readiness();
    res.status(r.ready ? 200 : 503).json(r);
  });
  // Streamed in pieces, never one string of the whole page (megabytes at 10,000 accounts).
  app.get('/metrics', async (_req, res) => {
    res.type(deps.registry.contentType);
    for await (const piece of deps.registry.pieces()) {
      if (res.destroyed) return;
      if (!res.write(piece)) await drained(res);
    }
    res.end();
  });
  return app;
}
