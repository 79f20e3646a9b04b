// The new-tool and revoke rows: from the change (an LDAP entry added; a revoke through the API) to
// the moment the credential works, or is refused, timed by bench/credential.ts's 5 ms probe and
// confirmed with kubectl after, untimed.
import { cpSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvInfo } from '../test/env/environment.ts';
import { DirectoryFixture } from '../test/env/directory.ts';
import { callApi, type ApiTarget } from '../src/cli/api-client.ts';
import { homeStatus, pollFor, type Probe } from './credential.ts';

export interface LatencyContext {
  env: EnvInfo;
  repeats: number;
  probe: (name: string) => Probe;
  kubectlWorks: (home: string) => Promise<boolean>;
}

/** Seconds from each new tool's entry to a credential in its home that the apiserver accepts. */
export async function newToolLatency(c: LatencyContext): Promise<number[]> {
  const ldap = new DirectoryFixture(c.env.ldap);
  const seconds: number[] = [];
  for (let i = 0; i < c.repeats; i++) {
    const name = `nt-${i}`;
    const home = join(c.env.homesRoot, name);
    const started = performance.now();
    await ldap.addTool({ name, uidNumber: 200_000 + i });
    const works = await pollFor(
      name,
      () => homeStatus(c.probe(name), home),
      (s) => s === 200,
      120_000,
    );
    seconds.push((works - started) / 1000);
    if (!(await c.kubectlWorks(home))) throw new Error(`kubectl fails with ${name}'s new kubeconfig`);
  }
  return seconds;
}

/** Seconds from each revoke request to the leaked copy of the credential being refused (403). */
export async function revokeLatency(
  c: LatencyContext,
  target: ApiTarget,
  dir: string,
  tool: (i: number) => string,
): Promise<number[]> {
  const seconds: number[] = [];
  for (let i = 0; i < c.repeats; i++) {
    const name = tool(i + 1);
    const leaked = mkdtempSync(join(dir, 'leak-'));
    cpSync(join(c.env.homesRoot, name, '.kube'), join(leaked, '.kube'), { recursive: true });
    cpSync(join(c.env.homesRoot, name, '.toolskube'), join(leaked, '.toolskube'), { recursive: true });
    const before = await homeStatus(c.probe(name), leaked);
    if (before !== 200) throw new Error(`${name}'s credential answered ${before} before its revocation`);
    const started = performance.now();
    const r = await callApi(target, 'POST', `/api/v1/accounts/${name}/revoke`, {
      reason: 'benchmark',
      reissue: true,
    });
    if (r.status !== 200) throw new Error(`revoke answered ${r.status}`);
    const refused = await pollFor(
      `${name} forbidden`,
      () => homeStatus(c.probe(name), leaked),
      (s) => s === 403,
      30_000,
    );
    seconds.push((refused - started) / 1000);
    if (await c.kubectlWorks(leaked))
      throw new Error(`kubectl still works with ${name}'s revoked credential`);
  }
  return seconds;
}
