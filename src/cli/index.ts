#!/usr/bin/env -S node --max-semi-space-size=2
// The `kubeusers` command. Each subcommand hands over to the composition root in main.ts.
import { buildProgram } from './program.ts';

/**
 * Once a command has finished (the daemon drained after SIGTERM, a one-shot done), the process ends
 * by itself when nothing is left open. Something still open then (a socket opened while draining, a
 * library's timer) would keep it alive, a daemon until the kubelet kills it and a cron one-shot for
 * ever: it is named on stderr and the process exits anyway.
 */
const EXIT_GRACE_MS = 2_000;

function exitSoon(): void {
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    process.stderr.write(
      `kubeusers: still holding ${open.join(', ')} ${EXIT_GRACE_MS} ms after the command finished; exiting\n`,
    );
    process.exit();
  }, EXIT_GRACE_MS).unref();
}

const program = buildProgram();
program
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`kubeusers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(exitSoon);
