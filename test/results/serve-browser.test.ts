// The results browser in a real browser: Debian's headless Chromium, driven by
// playwright-core, against the handler on a real loopback socket. Screenshots
// go to .vitest-artifacts/report/ beside the report's own.

import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServeHandler } from '../../results/serve.js';
import { launchChromium } from './browser.js';
import { fixtureStore, type FixtureStore } from './serve-store.js';

const ARTIFACTS = resolve(import.meta.dirname, '..', '..', '.vitest-artifacts', 'report');
mkdirSync(ARTIFACTS, { recursive: true });

/** A page that records console errors, page errors and every request it makes. */
async function openPage(browser: Browser): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  return { page, errors, requests };
}

const visibleRuns = (page: Page) => page.$$eval('tr.run:not([hidden]) a.run-link', (as) => as.map((a) => a.textContent));

describe('undertow serve in Chromium', () => {
  let browser: Browser;
  let fx: FixtureStore;
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    fx = fixtureStore();
    server = createServer(createServeHandler(fx.store));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    }
    if (fx) rmSync(fx.store, { recursive: true, force: true });
  });

  it('lists both runs, filters by verdict and text, and opens a run’s report with its verdict', async () => {
    const { page, errors, requests } = await openPage(browser);
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });

    // Newest first, each with its coloured verdict.
    expect(await visibleRuns(page)).toEqual(['cas-register-bug', 'cas-register']);
    expect(await page.$$eval('tr.run .verdict', (els) => els.map((e) => [e.textContent, getComputedStyle(e).backgroundColor]))).toEqual([
      ['invalid', 'rgb(211, 58, 44)'],
      ['valid', 'rgb(46, 158, 72)'],
    ]);
    expect(await page.textContent('#shown')).toBe('2 of 2 runs');
    await page.screenshot({ path: join(ARTIFACTS, 'serve-index.png'), fullPage: true });

    // Only valid runs: the invalid one is hidden, and the filter is kept in the URL.
    await page.selectOption('#verdict', 'valid');
    expect(await visibleRuns(page)).toEqual(['cas-register']);
    expect(await page.isVisible('tr.run[data-verdict="invalid"]')).toBe(false);
    expect(await page.textContent('#shown')).toBe('1 of 2 runs');
    expect(new URL(page.url()).hash).toBe('#verdict=valid');
    await page.screenshot({ path: join(ARTIFACTS, 'serve-index-valid.png'), fullPage: true });

    // Text: a seeded bug's name finds the run it was switched on in.
    await page.selectOption('#verdict', '');
    await page.fill('#q', 'read-without-lease');
    expect(await visibleRuns(page)).toEqual(['cas-register-bug']);
    await page.fill('#q', 'no such thing');
    expect(await visibleRuns(page)).toEqual([]);
    expect(await page.isVisible('#none')).toBe(true);
    await page.fill('#q', '');
    expect(await visibleRuns(page)).toEqual(['cas-register-bug', 'cas-register']);

    // A reload with the fragment shows the same selection.
    await page.goto(`${origin}/index.html#verdict=invalid`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-ready="true"]');
    expect(await visibleRuns(page)).toEqual(['cas-register-bug']);

    // Clicking the invalid run opens its report, which shows the verdict.
    await Promise.all([page.waitForURL(/report\.html$/), page.click('text=cas-register-bug')]);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    expect(page.url()).toBe(`${origin}/store/cas-register-bug/20260302T113000.000Z/report.html`);
    expect(await page.textContent('#overall')).toBe('invalid');
    expect(await page.textContent('#checker-linear .verdict')).toBe('invalid');
    await page.screenshot({ path: join(ARTIFACTS, 'serve-report.png'), fullPage: true });

    expect(errors).toEqual([]);
    // Nothing but our own origin: no external assets, no network.
    expect(requests.filter((u) => !u.startsWith(`${origin}/`))).toEqual([]);
    await page.close();
  });

  it('the files link lists a run’s folder, and its files open', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${origin}/`, { waitUntil: 'load' });
    await page.click('tr.run[data-verdict="valid"] a.files');
    await page.waitForSelector('#files');
    expect(page.url()).toBe(`${origin}/store/cas-register/20260301T100000.000Z/`);
    const names = await page.$$eval('#files td:first-child a', (as) => as.map((a) => a.textContent));
    expect(names).toEqual(['../', 'harness.log', 'history.jsonl', 'nemesis.jsonl', 'nodes/', 'report.html', 'results.json', 'test.json']);
    await page.screenshot({ path: join(ARTIFACTS, 'serve-files.png'), fullPage: true });

    await page.click('#files a:text-is("nodes/")');
    await page.click('#files a:text-is("n1/")');
    await page.click('#files a:text-is("n1.log")');
    expect(await page.textContent('body')).toContain('n1 started');
    await page.goto(`${origin}/store/cas-register/20260301T100000.000Z/test.json`);
    expect(JSON.parse((await page.textContent('body'))!.trim())).toMatchObject({ name: 'cas-register', seed: 21 });
    expect(errors).toEqual([]);
    await page.close();
  });
});
