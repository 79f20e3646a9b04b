import { Command } from 'commander';
import { runDaemon, status, stdio, syncOnce, withApp, type Output } from './commands.ts';

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
  const run = (fn: Parameters<typeof withApp>[2]) => async () => exit(await withApp(config(), io, fn));

  program
    .command('run')
    .description('run the daemon: periodic sync and renewal sweep; SIGTERM drains and exits')
    .option('--confirm-removals', 'allow removals beyond the removal guard')
    .action((o: { confirmRemovals?: boolean }) => run((app) => runDaemon(app, o.confirmRemovals ?? false))());
  program
    .command('sync')
    .description('reconcile every account once')
    .requiredOption('--once', 'one pass, then exit (the daemon is `run`)')
    .option('--confirm-removals', 'carry out removals the removal guard held back')
    .action((o: { confirmRemovals?: boolean }) =>
      run((app) => syncOnce(app, io, 'sync', o.confirmRemovals ?? false))(),
    );
  program
    .command('plan')
    .description('print what a sync would change, and change nothing')
    .action(run((app) => syncOnce(app, io, 'plan')));
  program
    .command('renew')
    .description('renew every credential in its renewal window (for system cron)')
    .requiredOption('--once', 'one sweep, then exit')
    .action(run((app) => syncOnce(app, io, 'renew')));
  program
    .command('status [name]')
    .description('show the state of one account or all')
    .option('--json', 'machine-readable output')
    .action((name: string | undefined, o: { json?: boolean }) =>
      run((app) => status(app, io, name, o.json ?? false))(),
    );
  return program;
}
