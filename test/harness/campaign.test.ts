// `undertow campaign` without clusters: the file's parsing and every kind of
// mistake (one line with the file's line number), the cells a matrix gives,
// sharding and merging, outcomes and exit codes, and the files written
// (junit.xml's structure, summary.md, campaign.html's trend), with a fake
// runner standing in for runTest.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ComposedResult, Verdict } from '../../checkers/index.js';
import { expandCells, parseShard, shardOf, type Cell } from '../../harness/campaign/cells.js';
import { parseBudget, parseCampaign } from '../../harness/campaign/parse.js';
import { catchRates, junitXml, mergeCampaigns, readCampaign, summaryMd, writeCampaign } from '../../harness/campaign/report.js';
import { exitCodeOf, runCampaign, type CampaignResult, type CellRunner } from '../../harness/campaign/run.js';
import { main } from '../../harness/main.js';
import { expectValidJunit } from './junit-schema.js';
import { InputError } from '../../history/input-error.js';
import { renderRunsPage } from '../../results/runs-page.js';
import { listCampaigns } from '../../results/serve-campaigns.js';

const GOOD = `
name: demo
budget: 10m
defaults:
  time-limit: 5
  quiet: 1
  opts: { lease-ms: 500 }
matrix:
  workload: [register, set]
  nemesis: [none, [kill, pause]]
  bugs: [none, read-without-lease]
  seeds: 1..2
cells:
  - workload: bank
    opt: { grace-ms: 900 }
    expect: invalid
`;

const cellsOf = (text: string, store = 'store') => expandCells(parseCampaign(text, 'c.yaml'), store);

/** The one line a mistake prints. */
function mistake(text: string): string {
  try {
    cellsOf(text);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).toLine();
  }
  throw new Error('no mistake found');
}

describe('campaign files', () => {
  it('multiply a matrix into cells, last axis fastest, then the explicit cells', () => {
    const cells = cellsOf(GOOD);
    expect(cells).toHaveLength(2 * 2 * 2 * 2 + 1);
    expect(cells.map((c) => c.index)).toEqual(cells.map((_, i) => i));
    expect(cells[0].id).toBe('workload=register nemesis=none bug=none seed=1');
    expect(cells[1].id).toBe('workload=register nemesis=none bug=none seed=2');
    expect(cells[2].config).toMatchObject({ workload: 'register', nemesis: [], bugs: ['read-without-lease'], seed: 1, timeLimit: 5, quiet: 1 });
    expect(cells[4].config.nemesis).toEqual(['kill', 'pause']);
    expect(cells[8].config.workload).toBe('set');
    // Expected verdict: invalid with a bug, else valid, unless the cell says so.
    expect(cells.slice(0, 4).map((c) => c.expect)).toEqual(['valid', 'valid', 'invalid', 'invalid']);
    const bank = cells[16];
    expect(bank.expect).toBe('invalid');
    expect(bank.config.systemOptions).toEqual({ 'lease-ms': '500', 'grace-ms': '900' });
    expect(cells[0].config.systemOptions).toEqual({ 'lease-ms': '500' });
    expect(bank.line).toBe(14);
  });

  it('accept JSON, a list of matrices, and a matrix-wide expect', () => {
    const json = JSON.stringify(
      {
        name: 'j',
        budget: 60,
        matrix: [
          { workload: 'register', seeds: [1, 2] },
          { workload: 'set', bugs: ['read-without-lease'], expect: 'valid' },
        ],
      },
      null,
      2,
    );
    const cells = cellsOf(json);
    expect(cells.map((c) => [c.id, c.expect])).toEqual([
      ['workload=register seed=1', 'valid'],
      ['workload=register seed=2', 'valid'],
      ['workload=set bug=read-without-lease', 'valid'],
    ]);
  });

  it('read budgets as seconds, 90s, 5m or 1h', () => {
    expect([300, '300', '90s', '5m', '1h', '0', -1, 'soon'].map(parseBudget)).toEqual([300, 300, 90, 300, 3600, null, null, null]);
  });

  it.each([
    ['name: x\nbudget: [1\n', 2, 'not valid YAML'],
    ['- a\n- b\n', 1, 'is a map'],
    ['name: x\nbudget: 1\nfoo: 2\nmatrix: {workload: register}\n', 3, 'unknown key "foo"'],
    ['budget: 1\nmatrix: {workload: register}\n', 1, 'has no name'],
    ['name: a b\nbudget: 1\nmatrix: {workload: register}\n', 1, 'not a plain folder name'],
    ['name: x\nmatrix: {workload: register}\n', 1, 'has no budget'],
    ['name: x\nbudget: soon\nmatrix: {workload: register}\n', 2, 'is not a duration'],
    ['name: x\nbudget: 1\n', 1, 'has no cells'],
    ['name: x\nbudget: 1\nmatrix:\n  workload: []\n', 4, 'has no values'],
    ['name: x\nbudget: 1\nmatrix:\n  workload: register\n  workloads: set\n', 5, 'given twice'],
    ['name: x\nbudget: 1\nmatrix:\n  workload:\n    - register\n    - regster\n', 6, 'unknown workload "regster"'],
    ['name: x\nbudget: 1\nmatrix:\n  workload: register\n  frob: 2\n', 5, 'not an undertow test flag: frob'],
    ['name: x\nbudget: 1\ndefaults:\n  time-limit: -1\nmatrix:\n  workload: register\n', 4, '--time-limit must be a positive number'],
    ['name: x\nbudget: 1\ncells:\n  - workload: register\n    bug: nope\n', 5, 'unknown bug "nope"'],
    ['name: x\nbudget: 1\nmatrix:\n  workload: register\n  opts: [{zz: 1}]\n', 5, 'unknown option "zz"'],
    ['name: x\nbudget: 1\nmatrix:\n  workload: register\n  expect: maybe\n', 5, 'is not valid or invalid'],
    ['name: x\nbudget: 1\nmatrix:\n  workload: register\n  store: /tmp\n', 5, 'cannot be set in a campaign'],
    ['name: x\nbudget: 1\nmatrix:\n  workload: register\n  seeds: 5..1\n', 5, 'seed range 5..1'],
    ['name: x\nbudget: 1\ncells: {workload: register}\n', 3, 'cells must be a list'],
    ['name: x\nbudget: 1\nmatrix:\n  workload: register\n  nemesis: [kill, explode]\n', 5, 'unknown fault "explode"'],
  ])('refuse %j in one line at line %i', (text, line, what) => {
    const l = mistake(text);
    expect(l).not.toMatch(/\n/);
    expect(l.startsWith(`c.yaml:${line}: `), l).toBe(true);
    expect(l).toContain(what);
    // Every line says how to fix it.
    expect(l).toMatch(/\(.+\)$/);
  });
});

describe('sharding', () => {
  const cells = cellsOf(GOOD);
  it.each([1, 2, 3, 4, 5, 17, 20])('into %i shards: disjoint, covering, deterministic', (n) => {
    const shards = Array.from({ length: n }, (_, i) => shardOf(cells, { index: i + 1, count: n }).map((c) => c.index));
    expect(shards.flat().sort((a, b) => a - b)).toEqual(cells.map((c) => c.index));
    expect(shards.flat()).toHaveLength(new Set(shards.flat()).size);
    expect(shardOf(cellsOf(GOOD), { index: 1, count: n }).map((c) => c.id)).toEqual(shards[0].map((i) => cells[i].id));
  });
  it('refuses a shard that is not I/N', () => {
    for (const s of ['0/2', '3/2', 'a/b', '1', '1/0']) expect(() => parseShard(s)).toThrow(InputError);
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
  });
});

/** A fake run: the verdict a table gives the cell's id (default: the expected one), with perf figures. */
function fakeRunner(verdicts: Record<string, Verdict | 'crash'> = {}, store = 'store'): CellRunner {
  return async (cell: Cell) => {
    const v = verdicts[cell.id] ?? cell.expect;
    const results: ComposedResult | null =
      v === 'crash'
        ? null
        : {
            checker: 'compose',
            verdict: v,
            valid: v === 'valid' ? true : v === 'invalid' ? false : 'unknown',
            results: {
              perf: { checker: 'perf', verdict: 'valid', valid: true, throughput: 90 + cell.index, latency: { p99: 10 + cell.index } },
              ...(v === 'invalid' ? { set: { checker: 'set', verdict: 'invalid', valid: false, lost: [3, 4] } } : {}),
            },
          };
    return {
      paths: { dir: join(store, cell.config.name, `T${cell.index}`) },
      results,
      failure: v === 'crash' ? 'cluster did not start' : null,
      interrupted: false,
    };
  };
}

async function run(cells: Cell[], o: { verdicts?: Record<string, Verdict | 'crash'>; budgetS?: number; shard?: { index: number; count: number } } = {}) {
  let clock = 0;
  const shard = o.shard ?? null;
  const runner = fakeRunner(o.verdicts);
  return runCampaign(shardOf(cells, shard), {
    name: 'demo',
    file: 'c.yaml',
    budgetS: o.budgetS ?? 1e6,
    store: 'store',
    shard,
    totalCells: cells.length,
    // Each cell takes its time limit plus 4 s on the fake clock.
    runCell: async (cell, stop) => {
      clock += (cell.config.timeLimit + 4) * 1000;
      return runner(cell, stop);
    },
    stop: new AbortController().signal,
    now: () => clock,
  });
}

describe('running a campaign', () => {
  const cells = cellsOf(GOOD);

  it('passes cells with the expected verdict and exits 0', async () => {
    const r = await run(cells);
    expect(r.counts).toMatchObject({ pass: 17, fail: 0 });
    expect(r.exitCode).toBe(0);
    expect(r.cells[3]).toMatchObject({ outcome: 'pass', verdict: 'invalid', run: 'register-bug-read-without-lease/T3', throughput: 93, p99: 13, durationS: 9 });
    expect(r.cells[3].counterexample[0]).toBe('set: invalid');
  });

  it('fails a missed bug and a correct build found invalid (exit 1); unknown and not-run alone exit 2; a crash 255', async () => {
    const missed = await run(cells, { verdicts: { [cells[2].id]: 'valid', [cells[0].id]: 'invalid' } });
    expect(missed.cells[2].outcome).toBe('fail');
    expect(missed.cells[0].outcome).toBe('fail');
    expect(missed.exitCode).toBe(1);
    expect((await run(cells, { verdicts: { [cells[5].id]: 'unknown' } })).exitCode).toBe(2);
    const crashed = await run(cells, { verdicts: { [cells[5].id]: 'crash' } });
    expect(crashed.cells[5]).toMatchObject({ outcome: 'crashed', failure: 'cluster did not start' });
    expect(crashed.exitCode).toBe(255);
    expect(exitCodeOf({ pass: 1, fail: 1, unknown: 1, crashed: 1, 'not-run': 1 })).toBe(1);
    // A runner that throws (the run could not start) crashes its cell only.
    const throwing = await runCampaign(cells.slice(0, 2), {
      name: 'demo',
      file: 'c.yaml',
      budgetS: 1e6,
      store: 'store',
      shard: null,
      totalCells: 2,
      runCell: async (cell, stop) => {
        if (cell.index === 0) throw new Error('no space left on device');
        return fakeRunner()(cell, stop);
      },
      stop: new AbortController().signal,
    });
    expect(throwing.cells.map((c) => [c.outcome, c.failure])).toEqual([
      ['crashed', 'no space left on device'],
      ['pass', null],
    ]);
    expect(throwing.exitCode).toBe(255);
  });

  it('stops starting cells when the budget is spent and reports the rest as not run', async () => {
    // Each cell needs 6 s (time limit + quiet) to start and takes 9 s on the fake clock.
    const r = await run(cells, { budgetS: 30 });
    expect(r.cells.map((c) => c.outcome).filter((o) => o === 'pass')).toHaveLength(3);
    expect(r.counts['not-run']).toBe(14);
    expect(r.cells).toHaveLength(17);
    expect(r.cells[3].note).toMatch(/budget \(30 s\) was spent/);
    expect(r.exitCode).toBe(2);
  });

  it('Ctrl-C: the running cell is checked on what it recorded, no more start, and the rest are not run', async () => {
    const stop = new AbortController();
    const r = await runCampaign(cells.slice(0, 4), {
      name: 'demo',
      file: 'c.yaml',
      budgetS: 1e6,
      store: 'store',
      shard: null,
      totalCells: 4,
      runCell: async (cell, signal) => {
        const out = await fakeRunner()(cell, signal);
        if (cell.index !== 1) return out;
        stop.abort();
        return { ...out, interrupted: true };
      },
      stop: stop.signal,
    });
    // Cell 2 found nothing before it was stopped: not a pass for a correct build, an unknown.
    expect(r.cells.map((c) => c.outcome)).toEqual(['pass', 'unknown', 'not-run', 'not-run']);
    expect(r.cells[2].note).toBe('not run: the campaign was interrupted');
    expect(r.interrupted).toBe(true);
    expect(r.exitCode).toBe(2);
  });

  it('merges shards into the unsharded campaign', async () => {
    const verdicts = { [cells[2].id]: 'valid' as const, [cells[7].id]: 'unknown' as const };
    const whole = await run(cells, { verdicts });
    // The unknown bug cell neither caught nor missed: 6 caught of the 7 with a verdict.
    expect(catchRates(whole.cells)).toEqual([{ bug: 'read-without-lease', caught: 6, ran: 7 }]);
    const parts = await Promise.all([1, 2, 3].map((i) => run(cells, { verdicts, shard: { index: i, count: 3 } })));
    const merged = mergeCampaigns(parts.map((result, i) => ({ dir: `s${i}`, result })));
    const strip = (r: CampaignResult) => r.cells.map(({ durationS: _d, ...c }) => c);
    expect(strip(merged)).toEqual(strip(whole));
    expect(merged.counts).toEqual(whole.counts);
    expect(merged.exitCode).toBe(whole.exitCode);
    expect(merged.shards).toHaveLength(3);
    // A missing shard is not a clean night; the same shard twice is refused.
    const two = mergeCampaigns(parts.slice(0, 2).map((result, i) => ({ dir: `s${i}`, result })));
    expect(two.cells.length).toBeLessThan(17);
    expect(() => mergeCampaigns([parts[0], parts[0]].map((result, i) => ({ dir: `s${i}`, result })))).toThrow(/in two of the folders/);
  });
});

describe('campaign files written', () => {
  const cells = cellsOf(GOOD);

  it('junit.xml: one testsuite, a testcase per cell, failures and skips counted', async () => {
    const r = await run(cells, { verdicts: { [cells[2].id]: 'valid', [cells[0].id]: 'invalid', [cells[5].id]: 'crash' }, budgetS: 100 });
    const x = junitXml(r);
    expect(x.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')).toBe(true);
    expect(x.match(/<testsuite /g)).toHaveLength(1);
    expect(x.match(/<testcase /g)).toHaveLength(17);
    const suite = /<testsuite name="demo" tests="(\d+)" failures="(\d+)" errors="0" skipped="(\d+)"/.exec(x);
    const failures = x.match(/<failure /g)?.length ?? 0;
    const skipped = x.match(/<skipped /g)?.length ?? 0;
    expect(suite?.slice(1).map(Number)).toEqual([17, failures, skipped]);
    expect(failures).toBe(3);
    expect(skipped).toBe(r.counts['not-run']);
    expect(x).toContain('message="missed the bug: expected invalid, got valid"');
    expect(x).toContain('type="crashed" message="the harness failed: cluster did not start"');
    expect(x).toMatch(/run folder: register\/T0/);
    // Well-formed enough for a CI reader: every opened element closes, no raw ampersand or angle bracket in text.
    expect(x.match(/<testcase [^>]*[^/]>/g)?.length).toBe(x.match(/<\/testcase>/g)?.length ?? 0);
    expect(x.replace(/<[^>]+>/g, '')).not.toMatch(/[<>]|&(?!amp;|lt;|gt;|quot;|apos;)/);
    // And valid against the structure JUnit readers accept (test/fixtures/junit.xsd), by libxml2's validator.
    const file = join(mkdtempSync(join(tmpdir(), 'undertow-junit-')), 'junit.xml');
    writeFileSync(file, x);
    expectValidJunit(file);
  });

  it('summary.md, campaign.json and campaign.html in store/campaigns/NAME/TIMESTAMP, with a trend that marks flips as flaky', async () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-campaign-'));
    const first = await run(cells);
    const d1 = writeCampaign(store, first, new Date('2026-12-01T02:00:00Z'));
    const second = await run(cells, { verdicts: { [cells[2].id]: 'valid' } });
    const d2 = writeCampaign(store, second, new Date('2026-12-02T02:00:00Z'));
    expect(d2).toBe(join(store, 'campaigns', 'demo', '20261202T020000.000Z'));
    expect(readCampaign(d1).cells).toHaveLength(17);
    const md = readFileSync(join(d2, 'summary.md'), 'utf8');
    expect(md).toContain('## Campaign demo: 16 pass, 1 fail (exit 1)');
    expect(md).toContain('| read-without-lease | 7 | 8 | 88% |');
    const html = readFileSync(join(d2, 'campaign.html'), 'utf8');
    expect(html).toContain('Trend over 2 campaigns named demo');
    expect(html.match(/class="flaky"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(html).toContain('href="../../../register-bug-read-without-lease/T2/report.html"');
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(catchRates(second.cells)).toEqual([{ bug: 'read-without-lease', caught: 7, ran: 8 }]);
    expect(summaryMd(first)).toContain('17 of 17 cells');
    // undertow serve lists the campaign beside the runs, newest first, with its trend.
    const listed = listCampaigns(store);
    expect(listed.map((l) => [l.name, l.campaigns.map((c) => [c.exitCode, c.whole, c.cells])])).toEqual([
      [
        'demo',
        [
          [1, true, 17],
          [0, true, 17],
        ],
      ],
    ]);
    const page = renderRunsPage([], listed);
    expect(page).toContain('href="/store/campaigns/demo/20261202T020000.000Z/campaign.html"');
    expect(page.match(/class="night"/g)).toHaveLength(2);
  });
});

describe('undertow campaign on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'undertow-campaign-cli-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('--list prints the cells and runs nothing (exit 0); a bad file or flag exits 254 in one line', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const write = (into: string[]) => (s: string | Uint8Array) => (into.push(String(s)), true);
    const [o, e] = [process.stdout.write, process.stderr.write];
    process.stdout.write = write(out) as typeof process.stdout.write;
    process.stderr.write = write(err) as typeof process.stderr.write;
    try {
      const good = file('good.yaml', GOOD);
      expect(await main(['campaign', good, '--list', '--shard', '2/4', '--store', dir])).toBe(0);
      expect(out.join('')).toContain('4 of 17 cells (shard 2/4)');
      const bad = file('bad.yaml', 'name: x\nbudget: 1\nmatrix:\n  workload: regster\n');
      err.length = 0;
      expect(await main(['campaign', bad, '--store', dir])).toBe(254);
      expect(err.join('')).toBe(`undertow: ${bad}:4: cell 1: unknown workload "regster" (use one of: register, set, append, bank, version-register)\n`);
      err.length = 0;
      expect(await main(['campaign', good, '--shard', '5/4', '--list'])).toBe(254);
      expect(err.join('').trim().split('\n')).toHaveLength(1);
    } finally {
      process.stdout.write = o;
      process.stderr.write = e;
    }
  });
});
