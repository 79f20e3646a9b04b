import { Command, Option } from 'commander';
import { addApiOptions, renewViaApi, revokeViaApi, statusViaApi } from './api-commands.ts';
import type { ApiTargetOptions } from './api-client.ts';
import { EXIT } from './exit-codes.ts';
import { status, stdio, syncOnce, withApp, type Output } from './commands.ts';

const FORCE_HELP =
  'write even though another process holds the lease: take it over (the daemon stops writing until this ends)';

export function buildProgram(
  io: Output = stdio,
  exit: (code: number) => void = (c) => (process.exitCode = c),
): Command {
  const program = new Command('kubeusers')
    .description('Kubernetes credentials for every LDAP account of a shared hosting platform')
    .option('-c, --config <file>', 'configuration file', 'config/kubeusers.yaml')
    .showHelpAfterError()
    .action(() => program.help());
  const config = (): string => program.opts<{ config: string }>().config;
  const run =
    (fn: Parameters<typeof withApp>[2], o: Parameters<typeof withApp>[3] = {}) =>
    async () =>
      exit(await withApp(config(), io, fn, o));

  program
    .command('run')
    .description('run the daemon: periodic sync and renewal sweep; SIGTERM drains and exits')
    .option('--confirm-removals', 'allow removals beyond the removal guard')
    .action((o: { confirmRemovals?: boolean }) =>
      run(
        async (app) => {
          // The daemon's servers (express, the API) are loaded by `run` alone: a one-shot command
          // started by cron every few minutes pays for what it uses only.
          const { runDaemon } = await import('./daemon.ts');
          return runDaemon(app, o.confirmRemovals ?? false);
        },
        { resident: true },
      )(),
    );
  program
    .command('sync')
    .description('reconcile every account once')
    .requiredOption('--once', 'one pass, then exit (the daemon is `run`)')
    .option('--confirm-removals', 'carry out removals the removal guard held back')
    .option('--force', FORCE_HELP)
    .action((o: { confirmRemovals?: boolean; force?: boolean }) =>
      run((app) => syncOnce(app, io, 'sync', o))(),
    );
  program
    .command('plan')
    .description('print what a sync would change, and change nothing')
    .action(run((app) => syncOnce(app, io, 'plan')));
  addApiOptions(
    program
      .command('renew [name]')
      .description(
        'renew every credential in its renewal window (--once, for system cron), or one account now through the admin API',
      )
      .option('--once', 'one sweep, then exit')
      .option('--force', FORCE_HELP)
      .addOption(
        new Option('--kind <kind>', 'kind of the named account').choices(['tool', 'admin']).default('tool'),
      ),
    false,
  ).action(
    async (
      name: string | undefined,
      o: ApiTargetOptions & { once?: boolean; force?: boolean; kind: string },
    ) => {
      if (name && o.api) return exit(await renewViaApi(io, name, o));
      if (!name && o.once) return run((app) => syncOnce(app, io, 'renew', { force: o.force ?? false }))();
      io.err('kubeusers: give --once for the sweep, or an account name and --api');
      exit(EXIT.config);
    },
  );
  addApiOptions(
    program
      .command('revoke <name>')
      .description("revoke an account's credential through the admin API; it stops working at once")
      .requiredOption('--reason <text>', 'why (recorded in the ledger)')
      .addOption(new Option('--kind <kind>', 'kind of account').choices(['tool', 'admin']).default('tool'))
      .option('--no-reissue', 'do not write a new credential'),
    true,
  ).action(async (name: string, o: ApiTargetOptions & { reason: string; kind: string; reissue: boolean }) =>
    exit(await revokeViaApi(io, name, o)),
  );
  addApiOptions(
    program
      .command('status [name]')
      .description(
        'show the state of one account or all (from the cluster, or through the admin API with --api)',
      )
      .option('--json', 'machine-readable output')
      .addOption(
        new Option('--kind <kind>', 'kind of the named account').choices(['tool', 'admin']).default('tool'),
      ),
    false,
  ).action(async (name: string | undefined, o: ApiTargetOptions & { json?: boolean; kind: string }) => {
    if (o.api) return exit(await statusViaApi(io, name, { ...o, json: o.json ?? false }));
    return run((app) => status(app, io, name, o.json ?? false))();
  });
  return program;
}
