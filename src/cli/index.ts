#!/usr/bin/env -S node --max-semi-space-size=2
// The `kubeusers` command. Each subcommand hands over to the composition root in main.ts.
import { buildProgram } from './program.ts';

const program = buildProgram();
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`kubeusers: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
