// npm run bench:report: renderReport on a 100,000-op history (a simulated
// cas-register run with a partition and a kill, checked by linearizable, stats
// and perf), then the page's load time in Debian's headless Chromium
// (/usr/bin/chromium) from file://, until its script has drawn the timeline
// and the plots. Median of 3 each; the history and its check are built once
// and not timed.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport } from '../results/report.js';
import { launchChromium, loadReport } from '../test/results/browser.js';
import { runInput } from '../test/results/fixtures.js';
import { median } from '../harness/bench/stats.js';

const RUNS = 3;
const OPS = Number(process.env.UNDERTOW_BENCH_OPS ?? 100_000);

async function main(): Promise<void> {
  const input = runInput({ ops: OPS, processes: 10, keys: 20, seed: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'undertow-bench-report-'));
  const file = join(dir, 'report.html');
  const gen: number[] = [];
  let html = '';
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    html = renderReport(input);
    gen.push(performance.now() - t);
  }
  writeFileSync(file, html);
  const browser = await launchChromium();
  const load: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const { page, errors, loadMs } = await loadReport(browser, file);
      if (errors.length > 0) throw new Error(`the report had errors in the browser: ${errors.join('; ')}`);
      load.push(loadMs);
      await page.close();
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (a: string, b: string, c: string, d: string) => `${a.padEnd(26)}${b.padStart(10)}${c.padStart(12)}${d.padStart(26)}`;
  console.log(row('report, 100,000-op run', 'events', 'size (MB)', 'median of 3 (runs), ms'));
  console.log(
    row(
      'generation (renderReport)',
      String(input.history.length),
      (html.length / 1e6).toFixed(1),
      `${median(gen).toFixed(0)} (${gen.map((x) => x.toFixed(0)).join(', ')})`,
    ),
  );
  console.log(row('page load (Chromium)', '', '', `${median(load).toFixed(0)} (${load.map((x) => x.toFixed(0)).join(', ')})`));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
