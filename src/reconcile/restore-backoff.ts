// When to restore an account another writer changed. A writer that rewrites what kubeusers owns
// (a mutating webhook, a defaulter, a self-healing GitOps tool) answers every restore with another
// foreign change; without a backoff the two fight back to back, held only by the rate limiter.

export interface BackoffSettings {
  firstDelayMs: number;
  /** The sync interval: a fight never restores less often than the loop would anyway. */
  maxDelayMs: number;
}

/** One account's last restore, kept between foreign changes. */
export interface RestoreHistory {
  /** When the last restore ran (or is to run). */
  ranAt: number;
  /** How long a change after `ranAt` waits; 0 until the account turns foreign again soon after. */
  delayMs: number;
  /** When a ChangedElsewhere Event was last emitted. */
  toldAt: number;
}

export interface RestoreDecision {
  runAt: number;
  /** Emit ChangedElsewhere: at most once per backoff window, so a fight does not flood Events. */
  say: boolean;
  /** This change starts a fight: tell the operator once, not every turn. */
  fightStarts: boolean;
  history: RestoreHistory;
}

export function nextRestore(h: RestoreHistory | undefined, now: number, s: BackoffSettings): RestoreDecision {
  // Quiet for longer than the window the account was in: a new, unrelated change.
  const window = h ? Math.max(h.delayMs, s.firstDelayMs) : 0;
  if (!h || now - h.ranAt > window) {
    return { runAt: now, say: true, fightStarts: false, history: { ranAt: now, delayMs: 0, toldAt: now } };
  }
  const delayMs = h.delayMs === 0 ? s.firstDelayMs : Math.min(h.delayMs * 2, s.maxDelayMs);
  const runAt = Math.max(now, h.ranAt + delayMs);
  const say = now - h.toldAt >= delayMs;
  return {
    runAt,
    say,
    fightStarts: h.delayMs === 0,
    history: { ranAt: runAt, delayMs, toldAt: say ? now : h.toldAt },
  };
}
