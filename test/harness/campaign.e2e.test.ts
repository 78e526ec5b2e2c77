// `undertow campaign` as a user runs it: the built CLI over a tiny campaign of
// two 5-second cells on the local provider, the correct build of the
// reference system. One cell states the right expectation (valid), the other
// deliberately the wrong one (invalid, as if it had to catch a bug), so the
// campaign must exit 1 with exactly that cell failing. Then the same campaign
// in two shards, merged, must give the same cells; and Ctrl-C in the middle.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CampaignResult } from '../../harness/campaign/run.js';
import { cli, root } from './cli-run.js';
import { launchChromium } from '../results/browser.js';
import { expectValidJunit } from './junit-schema.js';

const CAMPAIGN = `
name: tiny
budget: 5m
defaults:
  workload: register
  time-limit: 5
  quiet: 1
  rate: 50
  seed: 3
cells:
  - expect: valid
  - expect: invalid
`;

/** `undertow campaign ARGS`; `interruptAfter` sends SIGINT 4 s after that text appears on stderr (within the first cell's main phase). */
function campaign(args: string[], interruptAfter?: RegExp): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'campaign', ...args], { cwd: root, env: { ...process.env, CI: 'true' } });
    let out = '';
    let err = '';
    let sent = false;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      if (interruptAfter && !sent && interruptAfter.test(err)) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 4000);
      }
    });
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

const folderOf = (out: string) => /^campaign: (\S+)/m.exec(out)?.[1] ?? '';
const cellsOf = (dir: string) => (JSON.parse(readFileSync(join(dir, 'campaign.json'), 'utf8')) as CampaignResult).cells;

describe('undertow campaign on the local provider', () => {
  it('runs each cell as a run folder, writes campaign.json, junit.xml, summary.md and campaign.html, and exits 1 for the cell not as expected; shards merged equal the whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'undertow-campaign-e2e-'));
    const store = join(dir, 'store');
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, CAMPAIGN);

    const whole = await campaign([file, '--store', store]);
    expect(whole.code, whole.err).toBe(1);
    const folder = folderOf(whole.out);
    expect(folder.startsWith(join(store, 'campaigns', 'tiny'))).toBe(true);
    const cells = cellsOf(folder);
    expect(cells.map((c) => [c.expected, c.verdict, c.outcome])).toEqual([
      ['valid', 'valid', 'pass'],
      ['invalid', 'valid', 'fail'],
    ]);
    for (const c of cells) {
      expect(existsSync(join(store, c.run as string, 'report.html'))).toBe(true);
      expect(c.throughput).toBeGreaterThan(0);
      expect(c.p99).toBeGreaterThan(0);
    }

    const junit = readFileSync(join(folder, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testsuite name="tiny" tests="2" failures="1" errors="0" skipped="0"/);
    expectValidJunit(join(folder, 'junit.xml'));
    expect(junit.match(/<testcase /g)).toHaveLength(2);
    expect(junit).toContain('message="missed the bug: expected invalid, got valid"');
    expect(junit).toContain(`run folder: ${cells[1].run}`);
    expect(readFileSync(join(folder, 'summary.md'), 'utf8')).toContain('## Campaign tiny: 1 pass, 1 fail (exit 1)');

    // campaign.html loads in Chromium with no errors, asks for nothing outside its folder, and links to both reports.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${join(folder, 'campaign.html')}`, { waitUntil: 'load' });
      expect(errors).toEqual([]);
      expect(requests).toEqual([`file://${join(folder, 'campaign.html')}`]);
      const hrefs = await page.$$eval('a.tile', (as) => as.map((a) => (a as HTMLAnchorElement).href));
      expect(hrefs.map((h) => existsSync(decodeURIComponent(new URL(h).pathname)))).toEqual([true, true]);
    } finally {
      await browser.close();
    }

    // One after another, as on separate machines: two clusters at once would judge a loaded machine.
    const shards = [await campaign([file, '--store', store, '--shard', '1/2']), await campaign([file, '--store', store, '--shard', '2/2'])];
    expect(shards.map((s) => s.code)).toEqual([0, 1]);
    const merged = await campaign(['merge', ...shards.map((s) => folderOf(s.out)), '--store', store]);
    expect(merged.code, merged.err).toBe(1);
    const strip = (cs: CampaignResult['cells']) => cs.map((c) => [c.index, c.id, c.expected, c.verdict, c.outcome, c.seed]);
    expect(strip(cellsOf(folderOf(merged.out)))).toEqual(strip(cells));
    // The merged campaign's trend includes the first whole campaign, not the shards.
    expect(readFileSync(join(folderOf(merged.out), 'campaign.html'), 'utf8')).toContain('Trend over 2 campaigns named tiny');
    expect(readdirSync(join(store, 'campaigns', 'tiny'))).toHaveLength(4);
  }, 240_000);

  it('Ctrl-C finishes the running cell on what it recorded, starts no more, and writes the results (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'undertow-campaign-int-'));
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, CAMPAIGN);
    const r = await campaign([file, '--store', join(dir, 'store')], /undertow: register \(reference/);
    expect(r.code, r.err).toBe(2);
    const cells = cellsOf(folderOf(r.out));
    expect(cells.map((c) => c.outcome)).toEqual(['unknown', 'not-run']);
    // Valid on what it recorded (unknown had it been stopped before its first op), but cut short: not a pass.
    expect(cells[0].interrupted).toBe(true);
    expect(['valid', 'unknown']).toContain(cells[0].verdict);
    expect(cells[1].note).toBe('not run: the campaign was interrupted');
  }, 120_000);
});
