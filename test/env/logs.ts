// The kubeusers logs a test run writes, for the global teardown's secret scan. Each kubeusers a test
// starts with a log file names the file here first, so the scan can tell a run that started none
// (nothing to check) from one whose logs were not written, or went where the scan does not look.
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
