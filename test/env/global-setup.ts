// Jest global setup: one environment for the whole integration run.
import { join } from 'node:path';
import { ENV_FILE, startEnvironment, type Environment } from './environment.ts';
import { generatedTools } from './ldif.ts';
import { reapStaleEnvironments } from './stale.ts';

/** Tools of another project, loaded with slapadd, for paging tests; the daemon under test never sees them. */
export const BULK_PROJECT = 'bulk';
export const BULK_TOOLS = 1_000;

export default async function globalSetup(): Promise<void> {
  const reaped = await reapStaleEnvironments();
  if (reaped > 0) console.log(`test env: cleaned up ${reaped} environment(s) left by a killed run`);
  const started = performance.now();
  const env = await startEnvironment({
    seed: { tools: generatedTools(BULK_TOOLS, { project: BULK_PROJECT, prefix: 'bulk' }) },
  });
  console.log(
    `\ntest env: ready in ${((performance.now() - started) / 1000).toFixed(1)} s at ${env.info.dir}`,
  );
  (globalThis as { __kubeusersEnv?: Environment }).__kubeusersEnv = env;
  // If jest dies without teardown, nothing of ours may outlive it.
  process.once('exit', () => {
    for (const pid of env.info.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  process.env.KUBEUSERS_TEST_ENV = join(env.info.dir, ENV_FILE);
}
