import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from './environment.ts';
import { expectedLogs } from './logs.ts';

/**
 * Secrets never reach a log: every kubeusers log line the run wrote (scenario logs, the local
 * platform's daemon log) is searched for PEM blocks, the LDAP passwords and bearer tokens. A run
 * that started no kubeusers with a log (`expectLog`), e.g. one test file of the directory client
 * alone, has nothing to scan and passes; one that did fails if none of those logs was written, or
 * if one was written where the scan does not look.
 */
function scanLogs(env: Environment): string[] {
  const dir = env.info.dir;
  if (!existsSync(dir)) return [`${dir} is gone: the scan checked nothing`];
  const secrets = [
    readFileSync(env.info.ldap.servicePasswordFile, 'utf8').trim(),
    readFileSync(env.info.ldap.editorPasswordFile, 'utf8').trim(),
    env.info.ldap.rootPassword,
  ];
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory() && name !== 'homes' && name !== 'home' && name !== 'etcd') walk(p);
      else if (st?.isFile() && /^kubeusers.*\.(log|jsonl)$/.test(name)) files.push(p);
    }
  };
  walk(dir);
  const found: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (/-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----/.test(text)) found.push(`${f}: a PEM block`);
    for (const s of secrets) if (s && text.includes(s)) found.push(`${f}: an LDAP password`);
    if (/eyJhbGciOi[A-Za-z0-9_-]{20,}/.test(text)) found.push(`${f}: a bearer token`);
  }
  const expected = expectedLogs(dir);
  const written = expected.filter((f) => existsSync(f));
  if (expected.length > 0 && written.length === 0)
    found.push(
      `${expected.length} kubeusers logs were expected and none was written: the scan checked nothing`,
    );
  for (const f of written.filter((w) => !files.includes(w)))
    found.push(`${f}: a kubeusers log the scan does not read`);
  return found;
}

export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as { __kubeusersEnv?: Environment };
  const env = holder.__kubeusersEnv;
  const leaks = env ? scanLogs(env) : [];
  await env?.stop();
  delete holder.__kubeusersEnv;
  // Findings are secrets found, or a scan that could not look: the heading says which are which.
  if (leaks.length > 0)
    throw new Error(`the scan of kubeusers logs for secrets failed:\n${leaks.join('\n')}`);
}
