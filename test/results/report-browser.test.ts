// The report in a real browser: Debian's headless Chromium, driven by
// playwright-core, loading report.html from file://. Screenshots go to
// .vitest-artifacts/report/.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinearizabilityResult } from '../../checkers/linearizability/check.js';
import { renderReport } from '../../results/index.js';
import { launchChromium, loadReport, paintedPixels } from './browser.js';
import { runInput } from './fixtures.js';

const ARTIFACTS = resolve(import.meta.dirname, '..', '..', '.vitest-artifacts', 'report');
mkdirSync(ARTIFACTS, { recursive: true });

function write(name: string, html: string): string {
  const file = join(ARTIFACTS, `${name}.html`);
  writeFileSync(file, html);
  return file;
}

describe('report.html in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('a valid run: verdicts, timeline and plots render, hover shows an op, no errors, no requests', async () => {
    const input = runInput({ ops: 600, seed: 21 });
    const { page, errors, requests } = await loadReport(browser, write('valid', renderReport(input)));
    expect(errors).toEqual([]);
    expect(requests.every((u) => u.startsWith('file://'))).toBe(true);
    expect(await page.textContent('#overall')).toBe('valid');
    expect(await page.$$eval('#verdicts .verdict', (els) => els.map((e) => e.textContent))).toEqual(['valid', 'valid', 'valid']);

    // The timeline and the two uPlot charts (each chart is one canvas).
    const [timeline, latency, throughput] = await paintedPixels(page, '#timeline, #latency canvas, #throughput canvas');
    expect(await page.$$eval('#latency canvas, #throughput canvas', (c) => c.length)).toBe(2);
    expect(timeline).toBeGreaterThan(20_000);
    expect(latency).toBeGreaterThan(20_000);
    expect(throughput).toBeGreaterThan(20_000);
    // uPlot's legend names every series.
    expect(await page.$$eval('#latency .u-legend .u-label', (els) => els.map((e) => e.textContent))).toEqual(expect.arrayContaining(['p50', 'p95', 'p99']));

    // Hovering the middle of the first lane's longest completed op shows it.
    const box = (await page.$('#timeline'))!.boundingBox();
    const b = (await box)!;
    const firstOp = await page.evaluate(() => {
      const d = JSON.parse(document.getElementById('report-data')!.textContent!);
      let best = -1;
      const len = (i: number) => d.ops.e[i] - d.ops.s[i];
      for (let i = 0; i < d.ops.s.length; i++) if (d.ops.lane[i] === 0 && d.ops.e[i] >= 0 && (best < 0 || len(i) > len(best))) best = i;
      return { s: d.ops.s[best], e: d.ops.e[best], end: d.end, f: d.fs[d.ops.f[best]], invoke: d.ops.invokeIndex[best] };
    });
    const plotW = b.width - 84 - 8;
    const mid = (firstOp.s + firstOp.e) / 2;
    await page.mouse.move(b.x + 84 + (mid / firstOp.end) * plotW, b.y + 30 + 4);
    await expect.poll(() => page.textContent('#tip')).toContain(`${firstOp.f} [key `);
    expect(await page.textContent('#tip')).toContain(`events ${firstOp.invoke}..`);
    expect(await page.isVisible('#tip')).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'valid.png'), fullPage: true });

    // Zooming in redraws (different pixels) and stays error-free.
    const before = await page.$eval('#timeline', (c) => (c as HTMLCanvasElement).toDataURL());
    await page.click('#zoom-in');
    await page.click('#zoom-in');
    expect(await page.$eval('#timeline', (c) => (c as HTMLCanvasElement).toDataURL())).not.toBe(before);
    await page.mouse.move(b.x + b.width / 2, b.y + 60);
    await page.mouse.wheel(0, -300);
    await (await page.$('.tl-wrap'))!.screenshot({ path: join(ARTIFACTS, 'valid-timeline-zoomed.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('an invalid run: invalid verdict, the counterexample drawn, event links select the stuck op', async () => {
    const input = runInput({ ops: 600, seed: 21, corrupt: true });
    const ce = (input.results.results.linear as unknown as LinearizabilityResult).failures[0];
    const { page, errors } = await loadReport(browser, write('invalid', renderReport(input)));
    expect(errors).toEqual([]);
    expect(await page.textContent('#overall')).toBe('invalid');
    expect(await page.textContent('#checker-linear .verdict')).toBe('invalid');
    const painted = await paintedPixels(page, '#timeline, #latency canvas, #throughput canvas');
    for (const p of painted) expect(p).toBeGreaterThan(20_000);

    // The drawing: a stuck op, numbered prefix steps, visible with real size.
    const svg = await page.$('.ce-svg');
    const svgBox = (await svg!.boundingBox())!;
    expect(svgBox.width).toBeGreaterThan(300);
    expect(await page.$$eval('.ce-svg .op.stuck', (els) => els.length)).toBe(1);
    expect(await page.$$eval('.ce-svg .lin-pt', (els) => els.length)).toBe(Math.min(16, ce.prefix.length));
    expect(await page.textContent('pre.ce-text')).toContain(`Then ${ce.stuck!.description}`);
    await (await page.$('.ce'))!.screenshot({ path: join(ARTIFACTS, 'invalid-counterexample.png') });

    // Clicking the stuck op's completion link selects it on the timeline.
    await page.click(`.ce a[data-event="${ce.stuck!.completeIndex}"]`);
    await expect.poll(() => page.textContent('#op-details')).toContain(`events ${ce.stuck!.invokeIndex}..${ce.stuck!.completeIndex}`);
    expect(await page.textContent('#op-details')).toContain('output: 99');
    await page.screenshot({ path: join(ARTIFACTS, 'invalid.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a 100,000-op run loads and draws', async () => {
    const input = runInput({ ops: 100_000, processes: 10, keys: 20, seed: 3 });
    const { page, errors } = await loadReport(browser, write('large', renderReport(input)));
    expect(errors).toEqual([]);
    expect(await page.textContent('#overall')).toBe(input.results.verdict);
    expect(await page.evaluate(() => JSON.parse(document.getElementById('report-data')!.textContent!).ops.s.length)).toBe(100_000);
    for (const p of await paintedPixels(page, '#timeline, #latency canvas, #throughput canvas')) expect(p).toBeGreaterThan(20_000);
    // Pan and zoom on it stay error-free.
    const b = (await (await page.$('#timeline'))!.boundingBox())!;
    await page.mouse.move(b.x + b.width / 2, b.y + 60);
    await page.mouse.wheel(0, -500);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width / 3, b.y + 60, { steps: 5 });
    await page.mouse.up();
    await page.screenshot({ path: join(ARTIFACTS, 'large.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);
});
