// Reads tools and admins with paged searches. Operational ppolicy attributes come back only when
// asked for by name, so every search names them (the older daemon forgot this for admins).
import type { ConnectionOptions } from 'node:tls';
import { Client, escapeFilter, InvalidCredentialsError, type ClientOptions } from 'ldapts';
import {
  KnownAccounts,
  type AccountKind,
  type ChangedEntry,
  type Directory,
  type DirectorySnapshot,
  type OneRead,
  type Skipped,
} from '../model/account.ts';
import {
  advanceMark,
  distinctChanges,
  membershipChanges,
  toolNameOfCn,
  type ChangeMark,
  type Stamped,
} from './changes.ts';
import {
  mapEntries,
  mapTool,
  uniqueAccounts,
  type Checked,
  type MappingRules,
  type RawEntry,
} from '../model/mapping.ts';
import {
  certificateErrorCode,
  connectOnce,
  hostOnly,
  tlsOptionsFor,
  transportOf,
  type OneConnection,
  type Transport,
} from './transport.ts';

/**
 * A value read from a file that may be rotated under the running daemon: `current` is what is in use,
 * `refresh` reads the file again now and resolves true when the value changed.
 */
export interface Rotating<T> {
  current: () => T;
  refresh: () => Promise<boolean>;
}

/** A value that never changes (a password from the environment, a test's). */
export const fixed = <T>(value: T): Rotating<T> => ({
  current: () => value,
  refresh: () => Promise.resolve(false),
});

export interface LdapDirectoryOptions {
  servers: string[];
  /** StartTLS on ldap:// URLs; `ca` (PEM) replaces Node's built-in CAs when given. */
  tls: { startTls: boolean; ca?: Rotating<string> };
  bindDn: string;
  /** Read again when a bind is refused for its credentials, besides the file's own watch. */
  bindPassword: Rotating<string>;
  toolsBase: string;
  usersBase: string;
  adminGroupDn: string;
  memberStyle: 'member' | 'memberUid';
  pageSize: number;
  timeoutMs: number;
  rules: MappingRules;
}

/**
 * Why the directory could not be read: no server answered, every server that answered showed a
 * certificate that failed verification, a server refused the bind password (rotated in LDAP, not yet
 * in its file?), a read failed after the bind, or the connection closed under a read (a client is
 * never reconnected: see `connectOnce`).
 */
export type DirectoryErrorReason =
  'unreachable' | 'certificate' | 'credentials' | 'read-failed' | 'connection-closed';

export class DirectoryError extends Error {
  readonly reason: DirectoryErrorReason;

  constructor(message: string, reason: DirectoryErrorReason, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** The most a directory-watch look waits for one operation (the full timeout is for reads). */
const LOOK_TIMEOUT_MS = 5_000;

/**
 * The looks keep their connection (a TLS handshake and a bind cost more than the look's three small
 * searches), but not forever: a password or CA changed in the directory while its file kept the old
 * one is noticed by a fresh bind within this long.
 */
const LOOK_CONNECTION_MS = 10_000;

/** The looks' connection, with what it was opened with: a rotated file opens a new one. */
interface LookConnection {
  client: Client;
  opened: number;
  password: string;
  ca: string | undefined;
}

const PPOLICY = ['pwdAccountLockedTime', 'pwdPolicySubentry'];

function values(entry: RawEntry | undefined, attr: string): string[] {
  const v = entry?.[attr];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) =>
    Buffer.isBuffer(x) ? x.toString('utf8') : String(x as string),
  );
}

export class LdapDirectory implements Directory {
  readonly #o: LdapDirectoryOptions;

  constructor(options: LdapDirectoryOptions) {
    this.#o = options;
  }

  get #attributes(): string[] {
    const a = this.#o.rules.attributes;
    return ['cn', a.uid, a.uidNumber, a.gidNumber, a.homeDirectory, ...PPOLICY];
  }

  async read(): Promise<DirectorySnapshot> {
    const client = await this.#connect();
    try {
      const t = await this.#tools(client);
      const admins = await this.#admins(client);
      const a = mapEntries('admin', admins.entries, this.#o.rules);
      const snapshot = {
        accounts: [...t.accounts, ...a.accounts.map((x) => this.#accounts.same(x))],
        skipped: [...t.skipped, ...a.skipped, ...admins.missing],
      };
      this.#accounts.completed();
      return snapshot;
    } catch (err) {
      this.#accounts.abandoned();
      if (err instanceof DirectoryError) throw err;
      throw new DirectoryError(`LDAP read failed: ${describe(err)}`, 'read-failed', { cause: err });
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /** The last full read's accounts, handed out again where unchanged. */
  readonly #accounts = new KnownAccounts();

  #known(c: Checked): Checked {
    return 'ok' in c ? { ok: this.#accounts.same(c.ok) } : c;
  }

  #mark: ChangeMark = { stamp: '', dns: new Set() };
  #members: ReadonlySet<string> | undefined;
  #look: LookConnection | undefined;
  #opening: Promise<LookConnection> | undefined;

  /**
   * The looks' kept connection if it is young, still bound and its credentials are current; else a
   * new one (StartTLS and a bind first). A client whose connection closed is never reconnected
   * (`ldapClient`): its operations fail with `connection-closed` and the look tries a new one.
   */
  async #lookClient(): Promise<{ client: Client; reused: boolean }> {
    const kept = this.#look;
    const fresh =
      kept !== undefined &&
      kept.client.isBound &&
      performance.now() - kept.opened < LOOK_CONNECTION_MS &&
      kept.password === this.#o.bindPassword.current() &&
      kept.ca === this.#o.tls.ca?.current();
    if (kept && fresh) return { client: kept.client, reused: true };
    // A look and a one-entry read asking at once share one new connection: none is left open unseen.
    this.#opening ??= this.#open().finally(() => (this.#opening = undefined));
    return { client: (await this.#opening).client, reused: false };
  }

  async #open(): Promise<LookConnection> {
    await this.close();
    const password = this.#o.bindPassword.current();
    const ca = this.#o.tls.ca?.current();
    const client = await this.#connect(Math.min(this.#o.timeoutMs, LOOK_TIMEOUT_MS));
    this.#look = { client, opened: performance.now(), password, ca };
    return this.#look;
  }

  async close(): Promise<void> {
    const kept = this.#look;
    this.#look = undefined;
    await kept?.client.unbind().catch(() => undefined);
  }

  /**
   * The tools of this project and the admins whose entries were created or modified since the last
   * look, and the changes of the admin group's membership: small searches on modifyTimestamp, cheap
   * enough to run several times a second on a kept connection, limited in the filter itself to this
   * project's tools and to the people who are admins (another project's tool, or a person who is not
   * an admin, starts nothing).
   */
  async changes(now: Date): Promise<ChangedEntry[]> {
    if (!this.#mark.stamp)
      this.#mark = { stamp: generalizedTime(new Date(now.getTime() - 5_000)), dns: new Set() };
    return this.#onKept((client) => this.#changes(client));
  }

  /**
   * Runs `work` on the kept connection. A look caught by a server restart gives up soon
   * (LOOK_TIMEOUT_MS) instead of waiting out the full operation timeout. A kept connection the server
   * closed meanwhile (a restart, its idle timeout) is no outage: seen before the look, a new one is
   * opened at once (`#lookClient`); ended under it, the operation fails at once and `work` is tried
   * once more on a new one.
   */
  async #onKept<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const { client, reused } = await this.#lookClient();
    try {
      return await this.#bound(client, work);
    } catch (err) {
      await this.close();
      if (!reused) throw err;
    }
    const { client: again } = await this.#lookClient();
    try {
      return await this.#bound(again, work);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /**
   * `work`'s answer, unless the connection is no longer bound after it: it ended under `work`
   * (`OnceClient`), and the look is tried again on a new one. The client cannot reconnect
   * (`connectOnce`), so an answer from an unbound connection is only guarded against here.
   */
  async #bound<T>(client: Client, work: (client: Client) => Promise<T>): Promise<T> {
    const answer = await work(client);
    if (!client.isBound)
      throw new DirectoryError('the LDAP connection closed during a read', 'connection-closed');
    return answer;
  }

  async #changes(client: Client): Promise<ChangedEntry[]> {
    const since = this.#mark.stamp;
    const members = await this.#memberNames(client);
    const stamp = escapeFilter`(modifyTimestamp>=${since})`;
    const a = this.#o.rules.attributes;
    const tools = await this.#stamped(
      client,
      this.#o.toolsBase,
      `(&(objectClass=posixAccount)${escapeFilter`(cn=${this.#o.rules.project}.*)`}${stamp})`,
      (e) => ({
        kind: 'tool',
        name: values(e, 'cn')
          .map((cn) => toolNameOfCn(cn, this.#o.rules.project))
          .find(Boolean),
      }),
    );
    const people =
      members.size === 0
        ? []
        : await this.#stamped(
            client,
            this.#o.usersBase,
            `(&(objectClass=posixAccount)${stamp}(|${[...members].map((u) => escapeFilter`(${a.uid}=${u})`).join('')}))`,
            (e) => ({ kind: 'admin', name: values(e, a.uid)[0] }),
          );
    const { fresh, mark } = advanceMark(this.#mark, [...tools, ...people]);
    const joined = membershipChanges(this.#members, members);
    this.#mark = mark;
    this.#members = members;
    return distinctChanges([...fresh.map(({ kind, name }) => ({ kind, name })), ...joined]);
  }

  async #stamped(
    client: Client,
    base: string,
    filter: string,
    nameOf: (e: RawEntry) => { kind: AccountKind; name: string | undefined },
  ): Promise<Stamped[]> {
    const { searchEntries } = await client.search(base, {
      scope: 'sub',
      filter,
      attributes: ['cn', this.#o.rules.attributes.uid, 'modifyTimestamp'],
      paged: { pageSize: this.#o.pageSize },
    });
    return searchEntries.flatMap((e): Stamped[] => {
      const { kind, name } = nameOf(e);
      const stamp = values(e, 'modifyTimestamp')[0] ?? '';
      return name === undefined ? [] : [{ dn: e.dn, stamp, kind, name }];
    });
  }

  /** The admin group's members as uids (one base search). */
  async #memberNames(client: Client): Promise<Set<string>> {
    const attr = this.#o.memberStyle;
    const { searchEntries } = await client.search(this.#o.adminGroupDn, {
      scope: 'base',
      attributes: [attr],
    });
    const members = values(searchEntries[0], attr);
    const uids = attr === 'memberUid' ? members : members.map(uidOfDn);
    return new Set(uids.filter((u): u is string => u !== undefined));
  }

  /**
   * One account's entry: a tool by its cn, an admin by its uid after one base search on the group
   * that matches only if the person is a member. A second search returns no attributes, only whether
   * another account of the kind shares the uid number (a full read drops both; one read cannot tell
   * which is right, so it decides nothing).
   *
   * On the looks' kept connection while the watch keeps one (a one-account sync follows a look, and
   * a bind costs more than the read); otherwise on a connection of its own, closed after, so that a
   * caller without a watch (a test, a one-shot) is not left holding a socket.
   */
  async readOne(kind: AccountKind, name: string): Promise<OneRead> {
    const read = (client: Client): Promise<OneRead> => this.#readOne(client, kind, name);
    try {
      if (this.#look) return await this.#onKept(read);
      const client = await this.#connect();
      try {
        return await read(client);
      } finally {
        await client.unbind().catch(() => undefined);
      }
    } catch (err) {
      if (err instanceof DirectoryError) throw err;
      throw new DirectoryError(`LDAP read failed: ${describe(err)}`, 'read-failed', { cause: err });
    }
  }

  async #readOne(client: Client, kind: AccountKind, name: string): Promise<OneRead> {
    const a = this.#o.rules.attributes;
    const project = this.#o.rules.project;
    if (kind === 'admin' && !(await this.#isMember(client, name))) return { undecided: 'not-admin' };
    const [base, scope] =
      kind === 'tool'
        ? [this.#o.toolsBase, escapeFilter`(cn=${project}.${name})`]
        : [this.#o.usersBase, escapeFilter`(${a.uid}=${name})`];
    const entries = await this.#search(client, base, `(&(objectClass=posixAccount)${scope})`);
    if (entries.length === 0) return { undecided: 'not-found' };
    const mapped = mapEntries(kind, entries, this.#o.rules);
    const account = mapped.accounts[0];
    if (!account) return { skipped: mapped.skipped[0]! };
    const peers =
      kind === 'tool'
        ? escapeFilter`(cn=${project}.*)(uidNumber=${String(account.uidNumber)})`
        : escapeFilter`(uidNumber=${String(account.uidNumber)})`;
    const shared = await client.search(base, {
      scope: 'sub',
      filter: `(&(objectClass=posixAccount)${peers})`,
      attributes: ['1.1'],
      paged: { pageSize: this.#o.pageSize },
    });
    if (shared.searchEntries.length > 1) return { undecided: 'shared-uid-number' };
    return { found: account };
  }

  /** A base search on the group that returns it (without its member list) only if `uid` is a member. */
  async #isMember(client: Client, uid: string): Promise<boolean> {
    const member =
      this.#o.memberStyle === 'memberUid'
        ? escapeFilter`(memberUid=${uid})`
        : escapeFilter`(member=${this.#o.rules.attributes.uid}=${uid},${this.#o.usersBase})`;
    const { searchEntries } = await client.search(this.#o.adminGroupDn, {
      scope: 'base',
      filter: member,
      attributes: ['1.1'],
    });
    return searchEntries.length === 1;
  }

  /** Reachable and accepting our bind? For readiness. */
  async ping(): Promise<void> {
    const client = await this.#connect();
    await client.unbind().catch(() => undefined);
  }

  /**
   * The first server that proves its identity and accepts our bind. With StartTLS the upgrade comes
   * first and must succeed: the bind password is never sent before the certificate was verified.
   */
  async #connect(timeoutMs = this.#o.timeoutMs): Promise<Client> {
    const first = await this.#tryServers(timeoutMs);
    if ('client' in first) return first.client;
    // A rotated password (or CA) whose file changed before its watch said so: read both again now,
    // and try once more only if something changed.
    const again = first.credentials
      ? await this.#o.bindPassword.refresh()
      : first.allRefused && this.#o.tls.ca !== undefined && (await this.#o.tls.ca.refresh());
    // The looks' kept connection must not go on answering while a fresh bind is refused: the watch
    // would take the directory for healthy and spend the sync owed at its recovery too early.
    if (!again) {
      await this.close();
      throw first.error;
    }
    const second = await this.#tryServers(timeoutMs);
    if ('client' in second) return second.client;
    await this.close();
    throw second.error;
  }

  async #tryServers(
    timeoutMs: number,
  ): Promise<{ client: Client } | { error: DirectoryError; credentials: boolean; allRefused: boolean }> {
    const failures: string[] = [];
    const refused: unknown[] = [];
    let credentials = false;
    const ca = this.#o.tls.ca?.current();
    const password = this.#o.bindPassword.current();
    for (const url of this.#o.servers) {
      const transport = transportOf(url, this.#o.tls.startTls);
      const tls = tlsOptionsFor(url, ca);
      const client = ldapClient(url, transport, tls, timeoutMs);
      let step = '';
      try {
        if (transport === 'starttls') {
          step = 'StartTLS: ';
          await within(client.startTLS(tls), timeoutMs, 'StartTLS handshake timed out');
          step = '';
        }
        await client.bind(this.#o.bindDn, password);
        return { client };
      } catch (err) {
        if (certificateErrorCode(err) !== undefined) refused.push(err);
        if (err instanceof InvalidCredentialsError) credentials = true;
        failures.push(`${url}: ${step}${describeConnect(err)}`);
        await client.unbind().catch(() => undefined);
      }
    }
    const allRefused = refused.length === this.#o.servers.length;
    const reason = allRefused ? 'certificate' : credentials ? 'credentials' : 'unreachable';
    const what = reason === 'credentials' ? 'LDAP refused the bind password' : 'no LDAP server answered';
    const error = new DirectoryError(`${what} (${failures.join('; ')})`, reason, {
      cause: refused[0],
    });
    return { error, credentials, allRefused };
  }

  /**
   * The project's tools, each page mapped as it arrives and its raw entries dropped: at 10,000 tools
   * the read holds compact accounts, not every entry as ldapts parsed it.
   */
  async #tools(client: Client): Promise<DirectorySnapshot> {
    const checked: Checked[] = [];
    const pages = client.searchPaginated(this.#o.toolsBase, {
      scope: 'sub',
      filter: escapeFilter`(&(objectClass=posixAccount)(cn=${this.#o.rules.project}.*))`,
      attributes: this.#attributes,
      paged: { pageSize: this.#o.pageSize },
    });
    for await (const page of pages)
      for (const entry of page.searchEntries) checked.push(this.#known(mapTool(entry, this.#o.rules)));
    return uniqueAccounts('tool', checked);
  }

  async #search(client: Client, base: string, filter: string): Promise<RawEntry[]> {
    const { searchEntries } = await client.search(base, {
      scope: 'sub',
      filter,
      attributes: this.#attributes,
      paged: { pageSize: this.#o.pageSize },
    });
    return searchEntries;
  }

  async #admins(client: Client): Promise<{ entries: RawEntry[]; missing: Skipped[] }> {
    const attr = this.#o.memberStyle;
    const { searchEntries } = await client.search(this.#o.adminGroupDn, {
      scope: 'base',
      attributes: [attr],
    });
    const members = values(searchEntries[0], attr);
    if (members.length === 0) return { entries: [], missing: [] };
    const uids = attr === 'memberUid' ? members : members.map(uidOfDn);
    const wanted = uids.filter((u): u is string => u !== undefined);
    const missing: Skipped[] = members
      .filter((m, i) => uids[i] === undefined)
      .map((m) => ({
        kind: 'admin',
        dn: m,
        reason: 'member-not-found',
        message: `admin group member ${m} is not a uid=… entry under ${this.#o.usersBase}`,
      }));
    if (wanted.length === 0) return { entries: [], missing };
    const filter = `(&(objectClass=posixAccount)(|${wanted.map((u) => escapeFilter`(uid=${u})`).join('')}))`;
    const entries = await this.#search(client, this.#o.usersBase, filter);
    const found = new Set(entries.flatMap((e) => values(e, this.#o.rules.attributes.uid)));
    for (const u of wanted.filter((w) => !found.has(w))) {
      missing.push({
        kind: 'admin',
        name: u,
        dn: `uid=${u},${this.#o.usersBase}`,
        reason: 'member-not-found',
        message: `admin group member ${u} has no posixAccount entry`,
      });
    }
    return { entries, missing };
  }
}

/**
 * A client for one server, as kubeusers makes every one. TLS options go to ldaps:// only: given on
 * ldap:// they would make ldapts speak TLS from the first byte instead of StartTLS. It connects once:
 * an operation after its connection closed fails with `connection-closed` and sends nothing.
 */
export function ldapClient(
  url: string,
  transport: Transport,
  tls: ConnectionOptions,
  timeoutMs: number,
): Client {
  const options = {
    url,
    timeout: timeoutMs,
    connectTimeout: timeoutMs,
    ...(transport === 'ldaps' ? { tlsOptions: tls } : {}),
  };
  return new OnceClient(
    options,
    connectOnce(() => notReopened(url)),
  );
}

/**
 * A Client that is not connected once its connection ended, as ldapts means `isConnected` and
 * `isBound` to be. ldapts 9.2 loses track of a StartTLS connection that ended (see `connectOnce`):
 * the kept connection would pass for bound after a server restart or its idle close, and the next
 * look would write to the closed socket and wait out its timeout before trying a new connection.
 * Here that look opens a new one at once, and an operation on this client fails at once with the
 * refusal (ldapts connects again when it is not connected, and `connectOnce` refuses).
 */
class OnceClient extends Client {
  readonly #connection: OneConnection;

  constructor(options: ClientOptions, connection: OneConnection) {
    const { createConnection, createSecureConnection } = connection;
    super({ ...options, createConnection, createSecureConnection });
    this.#connection = connection;
  }

  override get isConnected(): boolean {
    return super.isConnected && !this.#connection.closed();
  }

  /** Nothing to say on a connection that ended: ldapts would wait for an answer until its timeout. */
  override async unbind(): Promise<void> {
    if (!this.#connection.closed()) await super.unbind();
  }
}

/** What an operation on a client whose connection closed fails with: nothing was sent. */
function notReopened(url: string): DirectoryError {
  return new DirectoryError(
    `the LDAP connection to ${hostOnly(url)} closed and is not reopened unbound; nothing was sent on a new one`,
    'connection-closed',
  );
}

/** `uid=alice,ou=people,…` → `alice`; other member DNs are not people. */
export function uidOfDn(dn: string): string | undefined {
  const m = /^uid=((?:[^,\\]|\\.)+),/i.exec(dn);
  return m?.[1]?.replace(/\\(.)/g, '$1');
}

function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A certificate that failed verification is said as such, with Node's code; the bind was not sent. */
function describeConnect(err: unknown): string {
  const code = certificateErrorCode(err);
  if (code === undefined) return describe(err);
  const message = err instanceof Error ? err.message.split(';')[0]!.trim() : '';
  return `TLS: the server's certificate is refused (${code}: ${message}); no bind was sent`;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message}`.trim();
  return 'unknown error';
}

/** LDAP GeneralizedTime in UTC, seconds precision: 20261125134501Z. */
export function generalizedTime(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
