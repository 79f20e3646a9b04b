// One row of the results: what a scenario measured, or why it was skipped.

export interface Scenario {
  name: string;
  n: number;
  wall_s?: number;
  cpu_s?: number;
  rss_mb?: number;
  api_requests?: number;
  p50_s?: number;
  p99_s?: number;
  floor_s?: number;
  ratio_to_floor?: number;
  peak_rps?: number;
  configured_qps?: number;
  allowed_peak_rps?: number;
  /** RSS of Node with kubeusers' modules loaded and nothing else done. */
  baseline_rss_mb?: number;
  /** The flood's achieved rate of bad-token requests, and the TokenReviews (by any client) made meanwhile. */
  flood_rps?: number;
  token_reviews?: number;
  /** Periodic syncs measured; wall, CPU and requests are then per sync. */
  runs?: number;
  /** Answered requests a second, their latency in milliseconds, over this many keep-alive connections. */
  rps?: number;
  p50_ms?: number;
  p99_ms?: number;
  connections?: number;
  /** The daemon's mean sync duration under the load, over its mean sync duration in quiet. */
  sync_ratio?: number;
  /** Why nothing was measured. */
  skipped?: string;
}

export const skipped = (name: string, n: number, reason: string): Scenario => ({
  name,
  n,
  skipped: reason,
});
