// HTTPS for the admin API: the serving certificate from config, client certificates requested and
// checked against the cluster CA (an unauthorised one is refused by the app, not the handshake, so
// a token can still be used).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { Express } from 'express';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  clientCaPem: string;
}

export async function serveHttps(
  app: Express,
  tls: TlsFiles,
  port: number,
  address: string,
): Promise<Server> {
  const server = createServer(
    {
      cert: await readFile(tls.certFile),
      key: await readFile(tls.keyFile),
      ca: tls.clientCaPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    app,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return server;
}
