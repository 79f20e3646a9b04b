import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { certMatchesKey } from '../../../src/pki/cert.ts';
import { adminKubeConfig, kubectl } from '../../env/index.ts';
import { cli, kubeconfigOf, scenario, type Scenario } from '../support.ts';

let s: Scenario;
const points = ['csr-created', 'csr-approved', 'key-written', 'cert-written', 'files-written'];

beforeAll(async () => {
  s = await scenario('cr');
});

describe('a daemon killed with SIGKILL in the middle of an issuance', () => {
  it.each(points)('at %s converges within one sync', async (point) => {
    const name = `at-${point}`;
    await s.dir.addTool({ name, uidNumber: 57_000 + points.indexOf(point) });
    const crashed = await cli(['--config', s.configFile, 'sync', '--once'], { KUBEUSERS_CRASH_AT: point });
    expect(crashed.signal).toBe('SIGKILL');

    const recovered = await cli(['--config', s.configFile, 'sync', '--once']);
    expect(recovered.stderr).toBe('');
    expect(recovered.code).toBe(0);

    const csrs = await adminKubeConfig()
      .makeApiClient(k8s.CertificatesV1Api)
      .listCertificateSigningRequest({ labelSelector: 'kubeusers.io/instance=kubeusers-cr' });
    expect(csrs.items.map((c) => c.metadata?.name)).toEqual([]);
    const home = join(s.homesRoot, name);
    const config = parse(readFileSync(kubeconfigOf(home), 'utf8')) as { 'current-context': string };
    expect(config['current-context']).toBe('test');
    const cert = readFileSync(join(home, '.toolskube', 'client.crt'), 'utf8');
    const key = readFileSync(join(home, '.toolskube', 'client.key'), 'utf8');
    expect(await certMatchesKey(cert, key)).toBe(true);
    expect((await kubectl(kubeconfigOf(home), ['get', 'configmaps'])).code).toBe(0);
  });
});
