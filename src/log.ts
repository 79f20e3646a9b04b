// Structured JSON logs (pino). One line per action. Secrets never reach a log line: the fields that
// could carry them are redacted as a second line of defence.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const REDACT = [
  '*.keyPem',
  '*.privateKey',
  '*.password',
  '*.bindPassword',
  '*.token',
  'keyPem',
  'password',
  'token',
  'authorization',
  '*.authorization',
];

export function makeLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { app: 'kubeusers' }, redact: { paths: REDACT, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
