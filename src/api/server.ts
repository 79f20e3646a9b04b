// HTTPS for the admin API: the serving certificate from config, client certificates requested and
// checked against the cluster CA (an unauthorised one is refused by the app, not the handshake, so
// a token can still be used). The serving pair and the client CA file are watched: a rotated one is
// in force for the next handshake, without a restart (connections already open keep theirs).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Express } from 'express';
import { ConfigError } from '../config/load.ts';
import { watchedCaBundle, WatchedFiles } from '../config/watched-file.ts';
import type { Logger } from '../log.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** The client CA as PEM (the cluster's, from cluster-info), unless `clientCaFile` is given. */
  clientCaPem: string;
  /** A client CA bundle file: read instead of `clientCaPem`, and watched when `log` is given. */
  clientCaFile?: string;
  /** Given, the files are watched and re-read when they change, with a log line each time. */
  log?: Logger;
}

export interface ServingPair {
  cert: string;
  key: string;
}

/** A certificate and its key, checked to belong together (a half-rotated pair is refused). */
export function servingPair([cert, key]: string[], files: string): ServingPair {
  try {
    createSecureContext({ cert: cert!, key: key! });
  } catch (err) {
    throw new ConfigError(`${files}: not a usable certificate and key pair (${(err as Error).message})`, {
      cause: err,
    });
  }
  return { cert: cert!, key: key! };
}

interface Current<T> {
  current: () => T;
}

const fixed = <T>(value: T): Current<T> & { close: () => void } => ({
  current: () => value,
  close: () => undefined,
});

async function sources(
  tls: TlsFiles,
  changed: () => void,
): Promise<{ pair: Current<ServingPair>; ca: Current<string>; close: () => void }> {
  const files = [tls.certFile, tls.keyFile];
  const what = 'api.certFile and api.keyFile';
  const log = tls.log;
  const pair = log
    ? await WatchedFiles.open({
        files,
        setting: what,
        parse: (t) => servingPair(t, what),
        log,
        onChange: changed,
      })
    : fixed(servingPair(await Promise.all(files.map((f) => readFile(f, 'utf8'))), what));
  const file = tls.clientCaFile;
  const ca =
    file === undefined
      ? fixed(tls.clientCaPem)
      : log
        ? await watchedCaBundle(file, 'api.clientCaFile', log, changed)
        : fixed(await readFile(file, 'utf8'));
  return {
    pair,
    ca,
    close: () => {
      pair.close();
      ca.close();
    },
  };
}

export async function serveHttps(
  app: Express,
  tls: TlsFiles,
  port: number,
  address: string,
): Promise<Server> {
  // Set once the server exists; the pair and bundle are validated before they get here, so setting
  // them cannot throw. A change before that is in the first context anyway.
  const live: { server?: Server } = {};
  const src = await sources(tls, () => live.server?.setSecureContext(context()));
  const context = (): SecureContextOptions => ({
    ...src.pair.current(),
    ca: src.ca.current(),
    minVersion: 'TLSv1.2',
  });
  const server = createServer({ ...context(), requestCert: true, rejectUnauthorized: false }, app);
  live.server = server;
  // A connection keeps the certificate of its handshake (peer-certificate.ts reads it once): a TLS 1.2
  // client may not renegotiate another one in.
  server.on('secureConnection', (socket) => socket.disableRenegotiation());
  server.once('close', () => src.close());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return server;
}
