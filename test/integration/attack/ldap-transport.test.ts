// Point 9 of issue 13: the LDAP transport. The attacker sits on the network path between kubeusers
// and the directory (test/env/interceptor.ts: a relay that can present its own certificate, answer
// StartTLS itself, and read whatever the client sends it in clear). Whoever can read and rewrite
// that traffic can add an admin-group member and receive admin credentials, and learns the bind
// password. Every case runs the real CLI (`sync --once`) with the operator's configuration for it,
// adds a new tool to the real directory first, and checks whether that tool was issued, whether the
// tool provisioned before is untouched, and whether the bind password reached the attacker or a log.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { startInterceptor, type InterceptMode, type Interceptor } from '../../env/interceptor.ts';
import { caWithServer, servingPairFrom, type Pair } from '../../env/pki.ts';
import { cli, scenario, scenarioInput, type Scenario } from '../support.ts';

const PROJECT = 'lt';
let s: Scenario;
let password: string;
/** The attacker's own CA and a certificate it made for the real server's names. */
let otherCa: { ca: Pair; server: Pair };
/** A certificate from the directory's real CA, but for another host (setup: uses the CA's key). */
let otherName: Pair;
const open: Interceptor[] = [];

const home = (tool: string): string => join(s.homesRoot, tool);
const certOf = (tool: string): string => join(home(tool), '.toolskube', 'client.crt');

beforeAll(async () => {
  s = await scenario(PROJECT);
  password = readFileSync(s.env.ldap.servicePasswordFile, 'utf8').trim();
  otherCa = await caWithServer('attacker-ca', {
    subject: 'CN=slapd',
    dns: ['localhost'],
    ips: ['127.0.0.1'],
  });
  otherName = await servingPairFrom(
    readFileSync(s.env.ldap.caFile, 'utf8'),
    readFileSync(s.env.ldap.caKeyFile, 'utf8'),
    ['127.0.0.2'],
    ['ldap.elsewhere.test'],
    'CN=ldap.elsewhere.test',
  );
  // A tool provisioned before the attack: a refused sync must leave it exactly as it is.
  await s.dir.addTool({ name: 'kept', uidNumber: 54_300 });
  const first = await s.sync();
  expect(first.failures).toEqual([]);
  expect(existsSync(certOf('kept'))).toBe(true);
});

afterAll(async () => {
  for (const i of open) await i.close();
});

interface Outcome {
  code: number;
  stderr?: RegExp;
  /** The tool added for this case got a credential. */
  issued: boolean;
  /** One warning line about plaintext LDAP in the log. */
  warned?: boolean;
  /** The attacker read the bind password (only ever true without TLS). */
  passwordSeen?: boolean;
}

interface Case {
  name: string;
  /** The operator's transport settings; the URL of an interceptor when there is one. */
  transport: (t: { url: string; ldapsUrl: string; caFile: string; dir: string }) => Record<string, unknown>;
  /** The attacker in the middle: how it speaks to kubeusers and whose certificate it shows. */
  mitm?: { mode: InterceptMode; cert: () => Pair };
  expect: Outcome;
}

const REFUSED_TLS = /directory unreachable, nothing removed or locked: .*TLS.*certificate/;

const cases: Case[] = [
  {
    name: '(a) ldap:// without StartTLS or allowPlaintext is refused at start',
    transport: ({ url }) => ({ servers: [url] }),
    expect: { code: 2, stderr: /ldap\.allowPlaintext/, issued: false },
  },
  {
    name: '(b) ldaps:// with the directory CA works',
    transport: ({ ldapsUrl, caFile }) => ({ servers: [ldapsUrl], caFile }),
    expect: { code: 0, issued: true },
  },
  {
    name: '(c) StartTLS with the directory CA works',
    transport: ({ url, caFile }) => ({ servers: [url], startTls: true, caFile }),
    expect: { code: 0, issued: true },
  },
  {
    name: '(d) ldaps:// to a man in the middle with a certificate of another CA is refused',
    transport: ({ url, caFile }) => ({ servers: [url], caFile }),
    mitm: { mode: 'ldaps', cert: () => otherCa.server },
    expect: { code: 5, stderr: REFUSED_TLS, issued: false, passwordSeen: false },
  },
  {
    name: '(d) StartTLS to a man in the middle with a certificate of another CA is refused',
    transport: ({ url, caFile }) => ({ servers: [url], startTls: true, caFile }),
    mitm: { mode: 'starttls', cert: () => otherCa.server },
    expect: { code: 5, stderr: REFUSED_TLS, issued: false, passwordSeen: false },
  },
  {
    name: '(e) ldaps:// to a certificate of the directory CA for another host name is refused',
    transport: ({ url, caFile }) => ({ servers: [url], caFile }),
    mitm: { mode: 'ldaps', cert: () => otherName },
    expect: { code: 5, stderr: REFUSED_TLS, issued: false, passwordSeen: false },
  },
  {
    name: '(e) StartTLS to a certificate of the directory CA for another host name is refused',
    transport: ({ url, caFile }) => ({ servers: [url], startTls: true, caFile }),
    mitm: { mode: 'starttls', cert: () => otherName },
    expect: { code: 5, stderr: REFUSED_TLS, issued: false, passwordSeen: false },
  },
  {
    name: '(d) StartTLS answered "unavailable" by a man in the middle is refused, not downgraded',
    transport: ({ url, caFile }) => ({ servers: [url], startTls: true, caFile }),
    mitm: { mode: 'strip', cert: () => otherCa.server },
    expect: {
      code: 5,
      stderr: /directory unreachable, nothing removed or locked: .*StartTLS/,
      issued: false,
      passwordSeen: false,
    },
  },
  {
    name: '(f) ldap:// with allowPlaintext: true works, and says so in the log',
    transport: ({ url }) => ({ servers: [url], allowPlaintext: true }),
    // What allowPlaintext means: anyone on the path reads the bind password.
    mitm: { mode: 'plain', cert: () => otherCa.server },
    expect: { code: 0, issued: true, warned: true, passwordSeen: true },
  },
  {
    name: '(g) a caFile that does not exist is a configuration error',
    transport: ({ ldapsUrl, dir }) => ({ servers: [ldapsUrl], caFile: join(dir, 'no-such-ca.crt') }),
    expect: { code: 2, stderr: /ldap\.caFile.*ENOENT/, issued: false },
  },
  {
    name: '(g) a caFile without a certificate in it is a configuration error',
    transport: ({ ldapsUrl, dir }) => {
      const caFile = join(dir, 'not-a-ca.crt');
      writeFileSync(caFile, 'hello\n');
      return { servers: [ldapsUrl], caFile };
    },
    expect: { code: 2, stderr: /ldap\.caFile.*no PEM certificate/, issued: false },
  },
];

/** The scenario's configuration with the case's transport in place of the shared one. */
function configFor(name: string, transport: Record<string, unknown>): string {
  const input = scenarioInput(s.env, PROJECT);
  const { bindDn, bindPassword, baseDn, project, memberStyle } = input.ldap;
  const file = join(s.env.dir, `config-${PROJECT}-${name}.yaml`);
  const config = { ...input, ldap: { bindDn, bindPassword, baseDn, project, memberStyle, ...transport } };
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

describe('LDAP transport, attacked from the network path', () => {
  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_, c, i) => {
    const tool = `t${i}`;
    await s.dir.addTool({ name: tool, uidNumber: 54_310 + i });
    const keptBefore = readFileSync(certOf('kept'), 'utf8');
    let url = s.env.ldap.url;
    let mitm: Interceptor | undefined;
    if (c.mitm) {
      mitm = await startInterceptor(c.mitm.mode, s.env.ldap.url, c.mitm.cert());
      open.push(mitm);
      url = mitm.url;
    }
    const file = configFor(tool, c.transport({ ...s.env.ldap, url, dir: s.env.dir }));
    const r = await cli(['--config', file, 'sync', '--once']);

    const out = `${r.stdout}\n${r.stderr}`;
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: c.expect.code,
      stderr: c.expect.stderr ? expect.stringMatching(c.expect.stderr) : expect.anything(),
    });
    expect(existsSync(certOf(tool))).toBe(c.expect.issued);
    // Nothing removed, locked or rewritten for the tool that was there before.
    expect(readFileSync(certOf('kept'), 'utf8') === keptBefore).toBe(true);
    expect(existsSync(join(home('kept'), 'k8s.disabled'))).toBe(false);
    // The bind password never reaches a log line or the CLI's output.
    expect(out.includes(password)).toBe(false);
    const warnings = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 40 && /plaintext/i.test(l.msg));
    expect(warnings).toHaveLength(c.expect.warned ? 1 : 0);
    if (mitm && c.expect.passwordSeen !== undefined) {
      expect(mitm.seen().includes(Buffer.from(password))).toBe(c.expect.passwordSeen);
    }
  });
});
