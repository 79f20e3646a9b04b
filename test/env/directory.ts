// Changes to the directory during a test, made over LDAP as the directory's manager, the way
// Toolforge's own tooling makes them; or, for the attacker tests, as the tool editor, whose ACL lets
// it write tool entries and nothing else.
import { readFileSync } from 'node:fs';
import { Attribute, Change, Client } from 'ldapts';
import { dn, lockTime, toolAttributes, userAttributes, type AdminSpec, type ToolSpec } from './ldif.ts';
import type { LdapInfo } from './slapd.ts';

export type DirectoryRole = 'manager' | 'editor';

export class DirectoryFixture {
  readonly #info: LdapInfo;
  readonly #role: DirectoryRole;

  constructor(info: LdapInfo, role: DirectoryRole = 'manager') {
    this.#info = info;
    this.#role = role;
  }

  /** The same directory, written as the tool editor: an attacker who may edit tool entries only. */
  asEditor(): DirectoryFixture {
    return new DirectoryFixture(this.#info, 'editor');
  }

  get shape() {
    return this.#info.shape;
  }

  async #withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const client = new Client({ url: this.#info.url, timeout: 10_000 });
    try {
      if (this.#role === 'editor')
        await client.bind(this.#info.editorDn, readFileSync(this.#info.editorPasswordFile, 'utf8'));
      else await client.bind(this.#info.rootDn, this.#info.rootPassword);
      return await fn(client);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  toolDn(name: string): string {
    return dn.tool(this.shape, name);
  }

  userDn(user: string): string {
    return dn.user(this.shape, user);
  }

  async addTool(tool: ToolSpec): Promise<string> {
    const target = dn.tool(this.shape, tool.name, tool.project);
    await this.#withClient((c) => c.add(target, toolAttributes(this.shape, tool)));
    if (tool.locked) await this.lock(target, tool.locked);
    return target;
  }

  async deleteTool(name: string): Promise<void> {
    await this.#withClient((c) => c.del(this.toolDn(name)));
  }

  /** Disables an account the way Toolforge does: lock time plus the `disabled` policy subentry. */
  async lock(target: string, kind: 'disabled' | 'marked-for-deletion' = 'disabled'): Promise<void> {
    await this.#withClient((c) =>
      c.modify(target, [
        new Change({
          operation: 'replace',
          modification: new Attribute({ type: 'pwdAccountLockedTime', values: [lockTime(kind, new Date())] }),
        }),
        new Change({
          operation: 'replace',
          modification: new Attribute({ type: 'pwdPolicySubentry', values: [dn.disabledPolicy(this.shape)] }),
        }),
      ]),
    );
  }

  async unlock(target: string): Promise<void> {
    await this.#withClient((c) =>
      c.modify(target, [
        new Change({ operation: 'delete', modification: new Attribute({ type: 'pwdAccountLockedTime' }) }),
        new Change({ operation: 'delete', modification: new Attribute({ type: 'pwdPolicySubentry' }) }),
      ]),
    );
  }

  async addUser(admin: AdminSpec): Promise<string> {
    const target = this.userDn(admin.user);
    await this.#withClient((c) => c.add(target, userAttributes(this.shape, admin)));
    return target;
  }

  async addToAdminGroup(user: string): Promise<void> {
    await this.#changeAdminGroup('add', user);
  }

  async removeFromAdminGroup(user: string): Promise<void> {
    await this.#changeAdminGroup('delete', user);
  }

  async #changeAdminGroup(operation: 'add' | 'delete', user: string): Promise<void> {
    const byDn = this.shape.memberStyle === 'member';
    const modification = new Attribute({
      type: byDn ? 'member' : 'memberUid',
      values: [byDn ? this.userDn(user) : user],
    });
    await this.#withClient((c) =>
      c.modify(dn.adminGroup(this.shape), new Change({ operation, modification })),
    );
  }

  /** Creates this project's (empty) admin group if it does not exist yet. */
  async ensureAdminGroup(): Promise<void> {
    const group = dn.adminGroup(this.shape);
    const attributes: Record<string, string[]> =
      this.shape.memberStyle === 'member'
        ? {
            objectClass: ['organizationalRole', 'extensibleObject'],
            cn: [`${this.shape.project}.admin`],
            gidNumber: ['50000'],
          }
        : { objectClass: ['posixGroup'], cn: [`${this.shape.project}.admin`], gidNumber: ['50000'] };
    await this.#withClient(async (c) => {
      try {
        await c.add(group, attributes);
      } catch (err) {
        if ((err as { code?: number }).code !== 68) throw err; // entryAlreadyExists
      }
    });
  }

  /** Rewrites one attribute of an entry (for malformed-entry tests). */
  async replaceAttribute(target: string, type: string, values: string[]): Promise<void> {
    await this.#withClient((c) =>
      c.modify(target, new Change({ operation: 'replace', modification: new Attribute({ type, values }) })),
    );
  }
}
