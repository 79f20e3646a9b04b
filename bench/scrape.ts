// node --max-semi-space-size=2 bench/scrape.ts [--n 10000] [--scrapes 50] [--whole]: what /metrics
// costs the daemon's heap at N accounts. Serves the ops app (src/api/ops.ts) over N states with
// certificates and scrapes it back to back; prints the page size, the time a scrape, and the peaks of
// V8's large-object space and of RSS. `--whole` serves the page as one string, as before 2026-12-02
// (ADR 9, amendment), for comparison.
import { parseArgs } from 'node:util';
import { getHeapSpaceStatistics } from 'node:v8';
import type { AddressInfo } from 'node:net';
import { createOpsApp } from '../src/api/ops.ts';
import { Metrics } from '../src/metrics/metrics.ts';
import type { AccountState } from '../src/model/state.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    scrapes: { type: 'string', default: '50' },
    whole: { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const metrics = new Metrics({ renewFraction: 2 / 3, jitterFraction: 0.1 }, { now: () => new Date() });
metrics.setStates(
  Array.from({ length: n }, (_, i): AccountState => ({
    kind: 'tool',
    name: `b-${String(i).padStart(5, '0')}`,
    uid: `b-${i}`,
    uidNumber: 100_000 + i,
    gidNumber: 100_000 + i,
    home: `/data/project/b-${i}`,
    epoch: 1,
    status: 'active',
    failures: 0,
    lastChange: new Date(),
    serial: `${i}`,
    notBefore: new Date('2026-11-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
  })),
);
const registry = values.whole
  ? {
      contentType: metrics.registry.contentType,
      async *pieces(): AsyncGenerator<string> {
        yield await metrics.registry.metrics();
      },
    }
  : metrics.registry;
const server = createOpsApp({ registry, readiness: () => ({ ready: true, checks: {} }) }).listen(
  0,
  '127.0.0.1',
);
await new Promise((r) => server.once('listening', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
const largeObjects = (): number =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'large_object_space')?.space_used_size ?? 0;
let peakLarge = 0;
let peakRss = 0;
let bytes = 0;
const scrapes = Number(values.scrapes);
const started = performance.now();
for (let i = 0; i < scrapes; i++) {
  bytes = (await (await fetch(url)).text()).length;
  peakLarge = Math.max(peakLarge, largeObjects());
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
console.log(
  `${values.whole ? 'one string' : 'pieces'}, N = ${n}: page ${mb(bytes)} MB, ` +
    `${((performance.now() - started) / scrapes).toFixed(1)} ms a scrape over ${scrapes}, ` +
    `peak large-object space ${mb(peakLarge)} MB, peak RSS ${mb(peakRss)} MB`,
);
server.close();
