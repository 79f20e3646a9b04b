// What each subcommand does, given the composition root.
import { ConfigError, crashPointFromEnv, loadConfig } from '../config/load.ts';
import { buildApp, ensureOwnNamespaceCheaply, type App } from '../main.ts';
import { runSync, type SyncMode, type SyncResult } from '../reconcile/sync.ts';
import { gatherCluster } from '../reconcile/gather.ts';
import { describeValidity, recordedValidity } from '../model/validity.ts';
import { EXIT } from './exit-codes.ts';
import type { Output } from './output.ts';
import { deliverEvents, underLease } from './lease.ts';

export type { Output } from './output.ts';

export const stdio: Output = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export async function withApp(
  configFile: string,
  io: Output,
  fn: (app: App) => Promise<number>,
  { resident = false }: { resident?: boolean } = {},
): Promise<number> {
  let app: App;
  try {
    const settings = await loadConfig(configFile);
    const point = crashPointFromEnv();
    // buildApp reads the files the configuration names (bind password, CA bundle): ConfigError too.
    app = await buildApp(settings, { ...(point ? { point } : {}), resident });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`kubeusers: ${err.message}`);
      return EXIT.config;
    }
    throw err;
  }
  return fn(app);
}

export function exitCodeOf(result: SyncResult): number {
  if (result.directoryError) return EXIT.directoryUnreachable;
  // An account waiting out its backoff has no credential either: cron must not see success.
  if (result.failures.length > 0 || result.waiting.length > 0) return EXIT.accountsFailed;
  if (result.guard) return EXIT.guardHeld;
  return EXIT.ok;
}

export function report(result: SyncResult, io: Output, mode: SyncMode): void {
  for (const line of result.done) io.out(line);
  for (const s of result.skipped) io.err(`skipped ${s.kind} ${s.name ?? s.dn}: ${s.message} (${s.reason})`);
  for (const f of result.failures) io.err(`failed ${f.account}: ${f.error}`);
  for (const w of result.waiting) {
    const until = w.until ? `; next attempt after ${w.until.toISOString()}` : '';
    io.err(`no credentials ${w.account}: ${w.reason}${until}`);
  }
  if (result.directoryError)
    io.err(`directory unreachable, nothing removed or locked: ${result.directoryError}`);
  if (result.guard) {
    io.err(
      `removal guard: ${result.guard.removals} account(s) would be removed, more than the ${result.guard.limit} allowed; nothing was removed (${result.guard.names.slice(0, 20).join(', ')}${result.guard.names.length > 20 ? ', …' : ''}). Confirm with: kubeusers sync --once --confirm-removals`,
    );
  }
  const verb = mode === 'plan' ? 'would change' : 'changed';
  io.out(
    `${mode}: ${result.done.length} step(s) ${verb}, ${result.failures.length} failure(s), ${result.waiting.length} without credentials, ${result.skipped.length} skipped entr${result.skipped.length === 1 ? 'y' : 'ies'}`,
  );
}

export interface OnceOptions {
  confirmRemovals?: boolean;
  /** Take the lease from a live holder (an emergency: the daemon stops writing meanwhile). */
  force?: boolean;
}

export async function syncOnce(
  app: App,
  io: Output,
  mode: SyncMode,
  opts: OnceOptions = {},
): Promise<number> {
  const confirmRemovals = opts.confirmRemovals === true;
  const run = async (): Promise<number> => {
    if (mode !== 'plan') await ensureOwnNamespaceCheaply(app);
    const result = await runSync(app.sync, { mode, ...(confirmRemovals ? { confirmRemovals } : {}) });
    report(result, io, mode);
    return exitCodeOf(result);
  };
  const code = mode === 'plan' ? await run() : await underLease(app, io, opts.force === true, run);
  await deliverEvents(app, io);
  return code;
}

export async function status(app: App, io: Output, name: string | undefined, json: boolean): Promise<number> {
  const { states } = await gatherCluster(app.clients, app.settings.kubernetes.namespace);
  const rows = states
    .filter((s) => name === undefined || s.name === name)
    .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
  if (name !== undefined && rows.length === 0) {
    io.err(`kubeusers: no account named ${name}`);
    return EXIT.error;
  }
  // `active` says what kubeusers did; whether the certificate works now is told beside it.
  const now = app.clock.now();
  const tolerance = app.settings.certificates.clockSkewToleranceSeconds * 1000;
  const validity = (s: (typeof rows)[number]): ReturnType<typeof recordedValidity> =>
    recordedValidity(s, now, tolerance);
  if (json) {
    const out = rows.map((s) => {
      const v = validity(s);
      return {
        ...s,
        validity: v.validity,
        ...('skewSeconds' in v ? { clockSkewSeconds: v.skewSeconds } : {}),
      };
    });
    io.out(JSON.stringify(out, null, 2));
    return EXIT.ok;
  }
  io.out(['KIND', 'NAME', 'STATUS', 'EPOCH', 'SERIAL', 'NOT AFTER', 'VALIDITY', 'LAST ERROR'].join('\t'));
  for (const s of rows) {
    io.out(
      [
        s.kind,
        s.name,
        s.status,
        s.epoch,
        s.serial ?? '-',
        s.notAfter?.toISOString() ?? '-',
        describeValidity(validity(s)),
        s.lastError ?? '',
      ].join('\t'),
    );
  }
  return EXIT.ok;
}
