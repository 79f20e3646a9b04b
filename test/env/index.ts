// What integration tests use: the running environment's facts, the directory fixture, kubectl.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { DirectoryFixture } from './directory.ts';
import type { EnvInfo } from './environment.ts';

const run = promisify(execFile);

export function testEnv(): EnvInfo {
  const file = process.env.KUBEUSERS_TEST_ENV;
  if (!file)
    throw new Error(
      'KUBEUSERS_TEST_ENV is not set: integration tests run under the jest "integration" project',
    );
  return JSON.parse(readFileSync(file, 'utf8')) as EnvInfo;
}

export function directory(env = testEnv()): DirectoryFixture {
  return new DirectoryFixture(env.ldap);
}

export function adminKubeConfig(env = testEnv()): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.kube.adminKubeconfig);
  return kc;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl; never throws on a non-zero exit so tests can assert on Forbidden. */
export async function kubectl(kubeconfig: string, args: string[], env = testEnv()): Promise<KubectlResult> {
  try {
    const { stdout, stderr } = await run(env.kube.kubectl, ['--kubeconfig', kubeconfig, ...args], {
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export { DirectoryFixture };
export * from './ldif.ts';
