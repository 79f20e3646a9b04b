// slapd's own account of the searches it answered (debug level `stats`): the proof of what kubeusers
// read from the directory, independent of kubeusers' own logs.
import { readFileSync, statSync } from 'node:fs';

export interface SlapdSearch {
  conn: string;
  base: string;
  filter: string;
  attrs: string;
  nentries: number;
}

export const slapdOffset = (log: string): number => statSync(log).size;

/** The searches slapd finished since `offset`, in order. */
export function searchesSince(log: string, offset: number): SlapdSearch[] {
  const open = new Map<string, { conn: string; base: string; filter: string; attrs: string }>();
  const done: SlapdSearch[] = [];
  const text = readFileSync(log).subarray(offset).toString('utf8');
  for (const line of text.split('\n')) {
    const op = /conn=(\d+) op=(\d+) /.exec(line);
    if (!op) continue;
    const key = `${op[1]}/${op[2]}`;
    const srch = /SRCH base="([^"]*)" scope=\d+ deref=\d+ filter="(.*)"$/.exec(line);
    if (srch) open.set(key, { conn: op[1]!, base: srch[1]!, filter: srch[2]!, attrs: '' });
    const attrs = / SRCH attr=(.*)$/.exec(line);
    if (attrs && open.has(key)) open.get(key)!.attrs = attrs[1]!;
    const result = / SEARCH RESULT .*nentries=(\d+)/.exec(line);
    if (result && open.has(key)) {
      done.push({ ...open.get(key)!, nentries: Number(result[1]) });
      open.delete(key);
    }
  }
  return done;
}

/** The DNs slapd was asked to bind as since `offset`, in order (one per connection that bound). */
export function bindsSince(log: string, offset: number): string[] {
  const text = readFileSync(log).subarray(offset).toString('utf8');
  return [...text.matchAll(/conn=\d+ op=\d+ BIND dn="([^"]*)"/g)].map((m) => m[1]!);
}
