// The three gauges every account with a certificate has, rendered as Prometheus text in one pass.
// Through prom-client's Gauge (reset, then set per label set, then its registry's formatting) one
// scrape at 10,000 accounts took 1.6 s of CPU and allocated 40 MB for a 2.7 MB page, every scrape.
import type { AccountState } from '../model/state.ts';

export interface PerAccountFamily {
  name: string;
  help: string;
  /** Seconds since the epoch; undefined: no line for that account. */
  value: (s: AccountState) => number | undefined;
}

// As prom-client escapes them: label values and help text stay one line each.
const escapeLabel = (v: string): string =>
  /[\\\n"]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/**
 * Each family's line for each state record, kept while the record lives (a saved state is a new
 * record): rendering 30,000 lines held the event loop ~100 ms a scrape at 10,000 accounts, and every
 * credential review and admin read with it; joining kept lines takes a few.
 */
const lines = new WeakMap<PerAccountFamily, WeakMap<AccountState, string | null>>();

function lineOf(f: PerAccountFamily, s: AccountState): string | null {
  let kept = lines.get(f);
  if (!kept) lines.set(f, (kept = new WeakMap()));
  let line = kept.get(s);
  if (line === undefined) {
    const v = f.value(s);
    line =
      v === undefined ? null : `${f.name}{kind="${escapeLabel(s.kind)}",name="${escapeLabel(s.name)}"} ${v}`;
    kept.set(s, line);
  }
  return line;
}

/** Lines a piece of the exposition holds: ~40 KB, well under V8's large-object size. */
const PIECE_LINES = 512;

/**
 * The families in the text exposition format, separated as prom-client separates its own, in pieces
 * of at most `perPiece` lines. At 10,000 accounts the whole text is ~7.6 MB: made as one string (three
 * joins, then the page), each scrape left ~20 MB in V8's large-object space, which only a full
 * collection frees; a scrape every 100 ms took the daemon from ~400 to 616 MB. Pieces die young.
 */
export function* perAccountPieces(
  families: PerAccountFamily[],
  states: Iterable<AccountState>,
  perPiece = PIECE_LINES,
): Generator<string> {
  const all = [...states];
  let piece: string[] = [];
  for (const [i, f] of families.entries()) {
    const lines = [
      `${i > 0 ? '\n\n' : ''}# HELP ${f.name} ${escapeHelp(f.help)}`,
      `\n# TYPE ${f.name} gauge`,
    ];
    for (const s of all) {
      const line = lineOf(f, s);
      if (line !== null) lines.push(`\n${line}`);
    }
    for (const line of lines) {
      piece.push(line);
      if (piece.length < perPiece) continue;
      yield piece.join('');
      piece = [];
    }
  }
  if (piece.length > 0) yield piece.join('');
}

/** The families as one string (tests, and tools that read the registry). */
export function perAccountText(families: PerAccountFamily[], states: Iterable<AccountState>): string {
  return [...perAccountPieces(families, states)].join('');
}

/** The families as prom-client's `getMetricsAsJSON` gives its own (read by tests and tools). */
export function perAccountSeries(
  families: PerAccountFamily[],
  states: Iterable<AccountState>,
): {
  name: string;
  help: string;
  type: 'gauge';
  aggregator: 'sum';
  values: { labels: { kind: string; name: string }; value: number }[];
}[] {
  const all = [...states];
  return families.map((f) => ({
    name: f.name,
    help: f.help,
    type: 'gauge',
    aggregator: 'sum',
    values: all.flatMap((s) => {
      const value = f.value(s);
      return value === undefined ? [] : [{ labels: { kind: s.kind, name: s.name }, value }];
    }),
  }));
}
