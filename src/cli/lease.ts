// One writer, always: a one-shot command that writes holds the daemon's Lease while it runs, or
// refuses and names the live holder. `--force` takes the lease over, for emergencies.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LeaderElector, type Acquired } from '../cluster/leader.ts';
import { ensureNamespaceOnly, type App } from '../main.ts';
import type { Output } from './output.ts';
import { EXIT } from './exit-codes.ts';

/** Never the daemon's: a one-shot run from a copy of the daemon's configuration is still another process. */
export function oneShotIdentity(host = hostname(), pid = process.pid): string {
  return `once/${host}-${pid}`;
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's process.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * A one-shot command of this host whose process is gone (killed mid-run): it cannot be writing, so
 * its lease is not waited out. A recycled pid looks alive: the safe way to be wrong.
 */
export function deadLocalOneShot(holder: string, host = hostname(), alive = pidAlive): boolean {
  const m = /^once\/(.+)-(\d+)$/.exec(holder);
  return m !== null && m[1] === host && !alive(Number(m[2]));
}

const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/** Why a one-shot write does not go: who holds the lease, since when, until when, and what to do. */
export function refusalMessage(held: Extract<Acquired, { ok: false }>, lease: string, now: Date): string {
  const renewed = held.renewedAt
    ? `renewed ${seconds(now.getTime() - held.renewedAt.getTime())} s ago, `
    : '';
  return [
    `kubeusers: the lease ${lease} is held by ${held.holder} (${renewed}valid ${seconds(held.expiresAt.getTime() - now.getTime())} s more):`,
    'another kubeusers is writing, and a second writer is refused; nothing was changed.',
    'Run this again once that process has stopped (scale the Deployment down, or wait for the other command),',
    'or take the lease over with --force: the holder stops writing until this command ends.',
  ].join(' ');
}

/**
 * Runs `fn` holding the lease (renewed meanwhile; every write fenced by it), and gives the lease up
 * after. Without leader election configured, `fn` runs as it is.
 */
export async function underLease(
  app: App,
  io: Output,
  force: boolean,
  fn: () => Promise<number>,
): Promise<number> {
  const s = app.settings;
  const le = s.leaderElection;
  if (!le.enabled) return fn();
  const ns = s.kubernetes.namespace;
  // The lease lives in kubeusers' namespace: on a first run there is none yet.
  const exists = await app.clients.core.readNamespace({ name: ns }).then(
    () => true,
    () => false,
  );
  if (!exists) await ensureNamespaceOnly(app);
  const elector = new LeaderElector(
    app.clients.kc,
    {
      namespace: ns,
      name: le.leaseName,
      identity: oneShotIdentity(),
      leaseDurationMs: le.leaseDurationSeconds * 1000,
      renewDeadlineMs: le.renewDeadlineSeconds * 1000,
      retryPeriodMs: le.retryPeriodSeconds * 1000,
      userAgent: `kubeusers/${ns}/${le.identity ?? 'local'}`,
    },
    app.log,
    { started: () => undefined, stopped: () => undefined },
  );
  let got = await elector.acquire({ force });
  if (!got.ok && deadLocalOneShot(got.holder)) {
    app.log.info(
      { action: 'lease', from: got.holder },
      'taking the lease of a one-shot command that is gone',
    );
    got = await elector.acquire({ force: true });
  }
  const lease = `${ns}/${le.leaseName}`;
  if (!got.ok) {
    const message = refusalMessage(got, lease, app.clock.now());
    io.err(message);
    await app.recorder.record({
      namespace: ns,
      regarding: { apiVersion: 'v1', kind: 'Namespace', name: ns, namespace: ns },
      reason: 'OneShotRefused',
      action: 'Refuse',
      type: 'Warning',
      note: message.replace(/^kubeusers: /, `${oneShotIdentity()}: `),
    });
    return EXIT.leaseHeld;
  }
  app.fence.canWrite = () => elector.writable().ok;
  try {
    if (got.from && !deadLocalOneShot(got.from.holder)) {
      // The old holder stops writing once it cannot renew, at the latest when its lease would have ended.
      const waitMs = Math.max(0, got.from.expiresAt.getTime() - app.clock.now().getTime());
      io.err(
        `kubeusers: --force: taking the lease ${lease} over from ${got.from.holder}; waiting ${seconds(waitMs)} s, until its lease would have ended, so that it has stopped writing`,
      );
      app.log.warn(
        { action: 'lease', forcedFrom: got.from.holder, identity: oneShotIdentity() },
        'lease taken over by force',
      );
      await sleep(waitMs);
    }
    return await fn();
  } finally {
    await elector.stop();
  }
}

/** Events still queued at the end of a one-shot run get a bounded wait, and a line if some stay undelivered. */
export async function deliverEvents(app: App, io: Output, timeoutMs = 15_000): Promise<void> {
  const left = await app.recorder.flush(timeoutMs);
  if (left > 0)
    io.err(
      `kubeusers: ${left} event(s) not recorded: the API server did not take them within ${seconds(timeoutMs)} s (the log has every action)`,
    );
}
