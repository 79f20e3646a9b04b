// The only code that reads the environment or config files. main.ts calls it once.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config, type SecretRef } from './schema.ts';

export class ConfigError extends Error {}

export interface Settings extends Config {
  ldap: Config['ldap'] & {
    toolsBase: string;
    usersBase: string;
    adminGroupDn: string;
    disabledPolicyDn: string;
  };
}

function formatIssues(source: string, issues: z.core.$ZodIssue[]): string {
  const lines = issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  return `${source} is not valid:\n${lines.join('\n')}`;
}

/** Fills in the DNs derived from the base and the project. */
export function resolveSettings(config: Config, env: NodeJS.ProcessEnv = process.env): Settings {
  const { baseDn, project } = config.ldap;
  const host = config.api.forward.host ?? env.POD_IP;
  return {
    ...config,
    api: { ...config.api, forward: { ...config.api.forward, ...(host ? { host } : {}) } },
    leaderElection: {
      ...config.leaderElection,
      identity: config.leaderElection.identity ?? `${hostname()}-${process.pid}`,
    },
    ldap: {
      ...config.ldap,
      toolsBase: config.ldap.toolsBase ?? `ou=people,ou=servicegroups,${baseDn}`,
      usersBase: config.ldap.usersBase ?? `ou=people,${baseDn}`,
      adminGroupDn: config.ldap.adminGroupDn ?? `cn=${project}.admin,ou=servicegroups,${baseDn}`,
      disabledPolicyDn: config.ldap.disabledPolicyDn ?? `cn=disabled,ou=ppolicies,${baseDn}`,
    },
  };
}

export function parseConfig(source: string, value: unknown): Settings {
  const result = configSchema.safeParse(value ?? {});
  if (!result.success) throw new ConfigError(formatIssues(source, result.error.issues));
  return resolveSettings(result.data);
}

export async function loadConfig(file: string): Promise<Settings> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseConfig(file, value);
}

/**
 * KUBEUSERS_CRASH_AT=<point> makes the process kill itself with SIGKILL at that point of an
 * issuance: the crash tests use it to prove recovery. Unset, nothing happens.
 */
export function crashPointFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): ((name: string) => void) | undefined {
  const at = env.KUBEUSERS_CRASH_AT;
  if (!at) return undefined;
  return (name) => {
    if (name === at) process.kill(process.pid, 'SIGKILL');
  };
}

/** Reads a secret; the error names where it looked, never what it found. */
export async function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value === undefined || value === '')
      throw new ConfigError(`environment variable ${ref.env} is not set`);
    return value;
  }
  let text: string;
  try {
    text = await readFile(ref.file!, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read secret file ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  return secretFromText(text, ref.file!);
}

/**
 * A secret file's text without its trailing newline. An empty one is refused: an empty LDAP bind
 * password is an anonymous bind, which many servers accept and answer with nothing.
 */
export function secretFromText(text: string, file: string): string {
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError(`secret file ${file} is empty`);
  return value;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;

/**
 * Reads a PEM bundle of CA certificates (`key` names the setting in errors). A missing or unreadable
 * file, one without a certificate, or a block that does not parse is a configuration error: a TLS
 * setting that silently trusts nothing, or the wrong thing, would only fail later and less clearly.
 */
export async function readCaBundle(file: string, key: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseCaBundle(text, file, key);
}

/** The certificates of a PEM bundle, each checked to parse; a ConfigError names the file, not its content. */
export function parseCaBundle(text: string, file: string, key: string): string {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${key} ${file}: no PEM certificate in it`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      throw new ConfigError(`${key} ${file}: certificate ${i + 1} of ${blocks.length} does not parse`);
    }
  }
  return blocks.join('\n');
}
