// LDIF for a directory shaped like Toolforge's (DESIGN.md §2), every name derived from a base DN and a project.
export interface DirectoryShape {
  baseDn: string;
  project: string;
  /** Where tool homes live; a tool's homeDirectory is `<homesRoot>/<tool>`. */
  homesRoot: string;
  /** Where admin homes live; an admin's homeDirectory is `<adminHomesRoot>/<user>`. */
  adminHomesRoot: string;
  /** rfc2307bis style (`member` DNs, production) or RFC 2307 (`memberUid`). */
  memberStyle: 'member' | 'memberUid';
}

export interface ToolSpec {
  name: string;
  /** Another project's tools share the OU but are not the daemon's (the bulk fixture uses this). */
  project?: string;
  uidNumber: number;
  /** Default the uid number. */
  gidNumber?: number;
  /** The Unix account name; default `<project>.<name>`. */
  uid?: string;
  /** Overrides for malformed-entry tests; `null` leaves the attribute out. */
  homeDirectory?: string | null;
  uidNumberAttr?: string | null;
  locked?: 'disabled' | 'marked-for-deletion';
}

export interface AdminSpec {
  user: string;
  uidNumber: number;
  locked?: 'disabled';
}

export const SERVICE_CN = 'kubeusers';
/** An account whose ACL lets it write tool entries and nothing else: the attacker tests' LDAP editor. */
export const EDITOR_CN = 'tool-editor';

export const dn = {
  people: (s: DirectoryShape) => `ou=people,${s.baseDn}`,
  groups: (s: DirectoryShape) => `ou=servicegroups,${s.baseDn}`,
  toolsOu: (s: DirectoryShape) => `ou=people,ou=servicegroups,${s.baseDn}`,
  tool: (s: DirectoryShape, name: string, project = s.project) =>
    `cn=${project}.${name},ou=people,ou=servicegroups,${s.baseDn}`,
  user: (s: DirectoryShape, user: string) => `uid=${user},ou=people,${s.baseDn}`,
  adminGroup: (s: DirectoryShape) => `cn=${s.project}.admin,ou=servicegroups,${s.baseDn}`,
  disabledPolicy: (s: DirectoryShape) => `cn=disabled,ou=ppolicies,${s.baseDn}`,
  service: (s: DirectoryShape) => `cn=${SERVICE_CN},ou=profile,${s.baseDn}`,
  editor: (s: DirectoryShape) => `cn=${EDITOR_CN},ou=profile,${s.baseDn}`,
};

/** `pwdAccountLockedTime` as Toolforge writes it: now for disabled, the epoch-like marker for deletion. */
export function lockTime(kind: 'disabled' | 'marked-for-deletion', now: Date): string {
  if (kind === 'marked-for-deletion') return '000001010000Z';
  return now
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function entry(lines: (string | undefined)[]): string {
  return lines.filter((l): l is string => l !== undefined).join('\n') + '\n\n';
}

export function baseLdif(s: DirectoryShape, servicePassword: string, editorPassword: string): string {
  const dc = /^dc=([^,]+)/.exec(s.baseDn)?.[1] ?? 'example';
  const ou = (d: string, name: string) =>
    entry([`dn: ${d}`, 'objectClass: organizationalUnit', `ou: ${name}`]);
  return [
    entry([`dn: ${s.baseDn}`, 'objectClass: dcObject', 'objectClass: organization', `dc: ${dc}`, `o: ${dc}`]),
    ou(dn.people(s), 'people'),
    ou(dn.groups(s), 'servicegroups'),
    ou(dn.toolsOu(s), 'people'),
    ou(`ou=ppolicies,${s.baseDn}`, 'ppolicies'),
    ou(`ou=profile,${s.baseDn}`, 'profile'),
    entry([
      `dn: ${dn.disabledPolicy(s)}`,
      'objectClass: organizationalRole',
      'objectClass: pwdPolicy',
      'cn: disabled',
      'pwdAttribute: userPassword',
      'pwdLockout: TRUE',
    ]),
    entry([
      `dn: ${dn.service(s)}`,
      'objectClass: organizationalRole',
      'objectClass: simpleSecurityObject',
      `cn: ${SERVICE_CN}`,
      `userPassword: ${servicePassword}`,
    ]),
    entry([
      `dn: ${dn.editor(s)}`,
      'objectClass: organizationalRole',
      'objectClass: simpleSecurityObject',
      `cn: ${EDITOR_CN}`,
      `userPassword: ${editorPassword}`,
    ]),
  ].join('');
}

function lockLines(s: DirectoryShape, locked: ToolSpec['locked'], now: Date): string[] {
  if (!locked) return [];
  return [`pwdAccountLockedTime: ${lockTime(locked, now)}`, `pwdPolicySubentry: ${dn.disabledPolicy(s)}`];
}

export function toolAttributes(s: DirectoryShape, t: ToolSpec): Record<string, string[]> {
  const attrs: Record<string, string[]> = {
    objectClass: ['account', 'posixAccount'],
    cn: [`${t.project ?? s.project}.${t.name}`],
    uid: [t.uid ?? `${t.project ?? s.project}.${t.name}`],
    gidNumber: [String(t.gidNumber ?? t.uidNumber)],
    loginShell: ['/bin/false'],
  };
  if (t.uidNumberAttr !== null) attrs.uidNumber = [t.uidNumberAttr ?? String(t.uidNumber)];
  if (t.homeDirectory !== null) attrs.homeDirectory = [t.homeDirectory ?? `${s.homesRoot}/${t.name}`];
  return attrs;
}

export function toolLdif(s: DirectoryShape, t: ToolSpec, now: Date): string {
  const attrs = toolAttributes(s, t);
  const lines = Object.entries(attrs).flatMap(([k, vs]) => vs.map((v) => `${k}: ${v}`));
  return entry([`dn: ${dn.tool(s, t.name, t.project)}`, ...lines, ...lockLines(s, t.locked, now)]);
}

export function userAttributes(s: DirectoryShape, a: AdminSpec): Record<string, string[]> {
  return {
    objectClass: ['inetOrgPerson', 'posixAccount'],
    uid: [a.user],
    cn: [a.user],
    sn: [a.user],
    uidNumber: [String(a.uidNumber)],
    gidNumber: [String(a.uidNumber)],
    homeDirectory: [`${s.adminHomesRoot}/${a.user}`],
  };
}

export function adminsLdif(s: DirectoryShape, admins: AdminSpec[], now: Date): string {
  const users = admins.map((a) => {
    const lines = Object.entries(userAttributes(s, a)).flatMap(([k, vs]) => vs.map((v) => `${k}: ${v}`));
    return entry([`dn: ${dn.user(s, a.user)}`, ...lines, ...lockLines(s, a.locked, now)]);
  });
  const members =
    s.memberStyle === 'member'
      ? admins.map((a) => `member: ${dn.user(s, a.user)}`)
      : admins.map((a) => `memberUid: ${a.user}`);
  // Debian ships RFC 2307's structural posixGroup, which cannot combine with groupOfNames the way
  // rfc2307bis does in production; extensibleObject carries `member` and may be emptied, like the real one.
  const group =
    s.memberStyle === 'member'
      ? ['objectClass: organizationalRole', 'objectClass: extensibleObject', 'gidNumber: 50000']
      : ['objectClass: posixGroup', 'gidNumber: 50000'];
  return users.join('') + entry([`dn: ${dn.adminGroup(s)}`, ...group, `cn: ${s.project}.admin`, ...members]);
}

/** `gen-00001`, `gen-00002`, … with uids from 60000: the bulk fixture. */
export function generatedTools(
  n: number,
  opts: { prefix?: string; firstUid?: number; project?: string } = {},
): ToolSpec[] {
  const { prefix = 'gen', firstUid = 60_000, project } = opts;
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}-${String(i + 1).padStart(5, '0')}`,
    uidNumber: firstUid + i,
    ...(project ? { project } : {}),
  }));
}
