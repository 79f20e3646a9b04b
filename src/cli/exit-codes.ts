// Exit codes a cron job or a script can act on.
export const EXIT = {
  ok: 0,
  error: 1,
  config: 2,
  /** Some account failed, or ends the run without working credentials (backing off included). */
  accountsFailed: 3,
  guardHeld: 4,
  directoryUnreachable: 5,
  /** A one-shot write refused: another process holds the lease (its name is on stderr). */
  leaseHeld: 6,
} as const;
