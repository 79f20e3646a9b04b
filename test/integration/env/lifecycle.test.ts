import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { startSlapd } from '../../env/slapd.ts';
import { dn, generatedTools } from '../../env/ldif.ts';
import { describe, expect, it } from '@jest/globals';
import { processesMentioning } from '../../env/proc.ts';
import { startEnvironment } from '../../env/environment.ts';

describe('the bulk fixture', () => {
  it('loads 20,000 generated tools with slapadd in seconds, all of them readable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubeusers-20k-'));
    const shape = {
      baseDn: 'dc=bulk,dc=test',
      project: 'tools',
      homesRoot: '/data/project',
      adminHomesRoot: '/home',
      memberStyle: 'member' as const,
    };
    const started = performance.now();
    const ldap = await startSlapd(dir, shape, { tools: generatedTools(20_000) });
    console.log(`20,000 tools: slapadd and start in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    try {
      const client = new Client({ url: ldap.info.url });
      await client.bind(ldap.info.rootDn, ldap.info.rootPassword);
      const { searchEntries } = await client.search(dn.toolsOu(shape), {
        filter: '(objectClass=posixAccount)',
        paged: { pageSize: 1000 },
        attributes: ['uidNumber'],
      });
      await client.unbind();
      expect(searchEntries).toHaveLength(20_000);
    } finally {
      await ldap.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the environment lifecycle', () => {
  it('starts a second, independent environment and leaves no process, port or directory after stop', async () => {
    const env = await startEnvironment({ shape: { baseDn: 'dc=other,dc=test', project: 'other' } });
    const { dir, pids } = env.info;
    expect(pids).toHaveLength(4);
    expect(processesMentioning(dir).sort()).toEqual([...pids].sort());
    await env.stop();
    expect(processesMentioning(dir)).toEqual([]);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
