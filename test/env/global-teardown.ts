import type { Environment } from './environment.ts';

export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as { __kubeusersEnv?: Environment };
  await holder.__kubeusersEnv?.stop();
  delete holder.__kubeusersEnv;
}
