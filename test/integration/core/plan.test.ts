import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generatedTools } from '../../env/ldif.ts';
import { cli, scenario, type Scenario } from '../support.ts';

let s: Scenario;

beforeAll(async () => {
  s = await scenario('pl', {}, { ownLdap: { tools: generatedTools(4, { prefix: 'p', firstUid: 59_000 }) } });
  expect((await s.sync()).failures).toEqual([]);
});
afterAll(() => s.ldap?.stop());

const changes = (out: string): string[] =>
  out
    .split('\n')
    .filter((l) => /^(tool|admin)\//.test(l))
    .sort();

describe('kubeusers plan', () => {
  it('lists exactly the changes that the following sync --once makes, and changes nothing itself', async () => {
    await s.dir.addTool({ name: 'p-new', uidNumber: 59_100 });
    await s.dir.lock(s.dir.toolDn('p-00001'));
    await s.dir.deleteTool('p-00002');
    await s.dir.addUser({ user: 'pl-admin', uidNumber: 59_200 });
    await s.dir.addToAdminGroup('pl-admin');

    const plan = await cli(['--config', s.configFile, 'plan']);
    expect(plan.code).toBe(0);
    const planned = changes(plan.stdout);
    expect(planned.length).toBeGreaterThan(5);
    // Planning twice gives the same answer: the first plan changed nothing.
    expect(changes((await cli(['--config', s.configFile, 'plan'])).stdout)).toEqual(planned);

    const sync = await cli(['--config', s.configFile, 'sync', '--once']);
    expect(sync.stderr).toBe('');
    expect(sync.code).toBe(0);
    expect(changes(sync.stdout)).toEqual(planned);
    expect(planned).toEqual(
      expect.arrayContaining([
        'tool/p-new: adopt the certificate in the home, or issue one',
        'tool/p-00001: delete RoleBinding pl-p-00001/kubeusers-tool',
        'tool/p-00002: delete Namespace pl-p-00002',
        'admin/pl-admin: apply ClusterRoleBinding kubeusers-kubeusers-pl-admin-pl-admin-view',
      ]),
    );
    const after = await cli(['--config', s.configFile, 'plan']);
    expect(changes(after.stdout)).toEqual([]);
  });

  it('exits 2 with a clear message on a bad config file', async () => {
    const r = await cli(['--config', '/nonexistent/kubeusers.yaml', 'plan']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read config file \/nonexistent\/kubeusers.yaml: ENOENT/);
  });
});
