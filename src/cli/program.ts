import { Command } from 'commander';

export const SUBCOMMANDS = ['run', 'sync', 'plan', 'renew', 'revoke', 'status'] as const;

export function buildProgram(): Command {
  const program = new Command('kubeusers')
    .description('Kubernetes credentials for every LDAP account of a shared hosting platform')
    .option('-c, --config <file>', 'configuration file', 'config/kubeusers.yaml')
    .showHelpAfterError()
    .action(() => program.help());
  program.command('run').description('run the daemon: periodic sync, renewal sweep, admin API');
  program.command('sync').description('reconcile every account once').option('--once', 'one pass, then exit');
  program.command('plan').description('print what a sync would change, and change nothing');
  program
    .command('renew')
    .description('renew every credential in its renewal window')
    .option('--once', 'one sweep, then exit');
  program.command('revoke <name>').description("revoke an account's credential through the admin API");
  program.command('status [name]').description('show the state of one account or all');
  return program;
}
