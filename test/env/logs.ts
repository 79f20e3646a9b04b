// The kubeusers logs a test run writes, for the global teardown's secret scan. Each kubeusers a test
// starts with a log file names the file here first, so the scan can tell a run that started none
// (nothing to check) from one whose logs were not written, or went where the scan does not look.
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** In the environment's directory; not a name the scan takes for a log. */
const LIST = 'expected-logs.txt';

/** A kubeusers of this run writes its log to `file`; `dir` is the test environment's directory. */
export function expectLog(dir: string, file: string): void {
  appendFileSync(join(dir, LIST), `${file}\n`);
}

/** The logs named by `expectLog` in this run, each once. */
export function expectedLogs(dir: string): string[] {
  const list = join(dir, LIST);
  if (!existsSync(list)) return [];
  return [...new Set(readFileSync(list, 'utf8').split('\n').filter(Boolean))];
}

/**
 * Everything a kubeusers process prints (stdout and stderr, as piped) also goes to
 * `kubeusers-<name>-<pid>.log` in `dir`, where the secret scan reads it: a test that reads a child's
 * output must not be the only one to see it.
 */
export function teeToLog(child: ChildProcess, dir: string, name: string): void {
  if (child.pid === undefined) return; // not started: its 'error' says why, and it prints nothing
  const file = join(dir, `kubeusers-${name}-${child.pid}.log`);
  expectLog(dir, file);
  appendFileSync(file, '');
  for (const stream of [child.stdout, child.stderr])
    stream?.on('data', (c: Buffer) => appendFileSync(file, c));
}
