// Loading reports in Debian's headless Chromium through playwright-core. Shared
// by the browser test and bench/report.ts.

import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the report's browser tests need Debian's Chromium. Install it with: apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface Loaded {
  page: Page;
  /** Console errors, page errors and requests for anything but the file itself. */
  errors: string[];
  requests: string[];
  /** From navigation start to the page's script having drawn everything. */
  loadMs: number;
}

/** Opens a report from file:// and waits until its script has drawn everything. */
export async function loadReport(browser: Browser, file: string, viewport = { width: 1400, height: 1000 }): Promise<Loaded> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  const started = performance.now();
  await page.goto(`file://${file}`, { waitUntil: 'load', timeout: 120_000 });
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  return { page, errors, requests, loadMs: performance.now() - started };
}

/** How many pixels of a canvas are not fully transparent (sampled on a grid for large canvases). */
export async function paintedPixels(page: Page, selector: string): Promise<number[]> {
  return page.$$eval(selector, (canvases) =>
    (canvases as HTMLCanvasElement[]).map((c) => {
      const ctx = c.getContext('2d');
      if (!ctx || c.width === 0 || c.height === 0) return 0;
      const { data } = ctx.getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
      return n;
    }),
  );
}
