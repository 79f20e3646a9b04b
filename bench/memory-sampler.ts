// Loaded into the daemon with `--import` by bench/profile-memory.ts: every 100 ms, one JSON line of
// where its memory is (RSS, V8's spaces, external and ArrayBuffer memory) to KUBEUSERS_MEMORY_SAMPLES.
// A profiling aid only; never loaded by the shipped command.
import { appendFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const file = process.env.KUBEUSERS_MEMORY_SAMPLES;
const mb = (b: number): number => Math.round(b / 1024 / 104.8576) / 10;

if (file) {
  const t = setInterval(() => {
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(
      getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), mb(s.space_size)]),
    );
    const h = getHeapStatistics();
    const line = {
      t: Date.now(),
      rss: mb(m.rss),
      heapTotal: mb(m.heapTotal),
      heapUsed: mb(m.heapUsed),
      external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers),
      malloced: mb(h.malloced_memory),
      peakMalloced: mb(h.peak_malloced_memory),
      spaces,
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }, 100);
  t.unref();
}
