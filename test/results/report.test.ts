import { describe, expect, it } from 'vitest';
import { appendChecker } from '../../checkers/append.js';
import { bankChecker } from '../../checkers/bank.js';
import { renderText } from '../../checkers/linearizability/counterexample.js';
import type { LinearizabilityResult } from '../../checkers/linearizability/check.js';
import { compose } from '../../checkers/result.js';
import { setChecker } from '../../checkers/set.js';
import { pairOps } from '../../history/pair.js';
import type { History, Op } from '../../history/types.js';
import { escapeHtml, renderReport } from '../../results/index.js';
import { reportData } from '../../results/report-data.js';
import { runInput } from './fixtures.js';

/** The page's embedded data, parsed back. */
function embedded(html: string): ReturnType<typeof reportData> {
  const m = /<script id="report-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  expect(m, 'the report embeds its data').not.toBeNull();
  return JSON.parse(m![1]) as ReturnType<typeof reportData>;
}

function expectSelfContained(html: string): void {
  expect(html.startsWith('<!doctype html>')).toBe(true);
  // Nothing is fetched: no external scripts, stylesheets, images or frames.
  expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
  expect(html).not.toMatch(/<script[^>]*\ssrc\s*=/i);
  expect(html).not.toMatch(/<link\b/i);
  expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
  // uPlot is inlined, and the page's script calls it.
  expect(html).toContain('uPlot');
  expect(html).toContain('(function reportClient(');
}

describe('renderReport', () => {
  const valid = runInput({ ops: 300, seed: 11 });
  const invalid = runInput({ ops: 300, seed: 11, corrupt: true });

  it('writes a self-contained page with the test, the verdicts and the data (valid run)', () => {
    expect(valid.results.verdict).toBe('valid');
    const html = renderReport(valid);
    expectSelfContained(html);
    expect(html).toContain('<title>cas-register: valid</title>');
    expect(html).toMatch(/<span id="overall"><span class="verdict valid">valid<\/span>/);
    for (const name of ['linear', 'stats', 'perf']) expect(html).toMatch(new RegExp(`href="#checker-${name}">${name}</a> <span class="verdict valid">`));
    expect(html).toContain('partition-random-halves, kill');
    expect(html).toContain(process.version);

    const data = embedded(html);
    const ops = pairOps(valid.history);
    expect(data.ops.s).toHaveLength(ops.length);
    expect(data.ops.invokeIndex).toEqual(ops.map((o) => o.invokeIndex));
    expect(data.ops.type.filter((t) => t === 2)).toHaveLength(ops.filter((o) => o.type === 'info').length);
    expect(data.fs.sort()).toEqual(['cas', 'read', 'write']);
    // The two nemesis intervals, healed, in order, within the run.
    expect(data.faults.map((f) => [f.f, f.healed])).toEqual([
      ['start-partition', true],
      ['kill', true],
    ]);
    for (const f of data.faults) expect(0 < f.start && f.start < f.end && f.end <= data.end).toBe(true);
    // Every ok op has a latency point; the quantile lines have values.
    expect(data.latency.points).toBe(ops.filter((o) => o.type === 'ok').length);
    expect(data.latency.series.at(-1)!.some((v) => v !== null)).toBe(true);
    // Throughput integrates back to the number of completions.
    const completions = data.throughput.series.reduce<number>(
      (sum, col) =>
        sum +
        col.reduce<number>(
          (a, r, b) =>
            a + (r ?? 0) * (b === col.length - 1 ? Math.max(data.end - b * data.throughput.bucket, data.throughput.bucket / 10) : data.throughput.bucket),
          0,
        ),
      0,
    );
    expect(Math.round(completions)).toBe(ops.length);
  });

  it('shows the counterexample of an invalid run: key, prefix, stuck op, text', () => {
    expect(invalid.results.verdict).toBe('invalid');
    const html = renderReport(invalid);
    expectSelfContained(html);
    expect(html).toMatch(/<span id="overall"><span class="verdict invalid">invalid<\/span>/);
    expect(html).toMatch(/href="#checker-linear">linear<\/a> <span class="verdict invalid">/);
    const linear = invalid.results.results.linear as unknown as LinearizabilityResult;
    const ce = linear.failures[0];
    expect(ce.stuck!.output).toBe(99);
    expect(html).toContain(`Key ${escapeHtml(JSON.stringify(ce.key))} is not linearizable`);
    expect(html).toContain(escapeHtml(renderText(ce)));
    // The drawing: the stuck op, and the last prefix op numbered with its state after.
    expect(html).toContain('<g class="op stuck');
    expect(html).toContain(`✗ not linearizable in ${escapeHtml(ce.state)}`);
    const last = ce.prefix.length;
    expect(html).toContain(`#${last} in the linearization; state after: ${escapeHtml(ce.prefix[last - 1].stateAfter)}`);
    expect(html).toMatch(new RegExp(`<text class="lin-num"[^>]*>${last}</text>`));
    // The stuck op links to its events.
    expect(html).toContain(`data-event="${ce.stuck!.invokeIndex}"`);
    expect(html).toContain(`data-event="${ce.stuck!.completeIndex}"`);
  });

  it('escapes what the history and the test say, also inside the embedded data', () => {
    const input = runInput({ ops: 20, seed: 2 });
    const evil = '</script><img src=x onerror=alert(1)>';
    input.test.name = evil;
    input.history = input.history.map((op, i) => (i === 0 ? { ...op, value: evil } : op));
    const html = renderReport(input);
    expect(html).not.toContain('<img src=x');
    expect(embedded(html).ops.input[0]).toBe(evil);
  });

  it('lists set, append and bank anomalies with links to the ops involved', () => {
    let i = 0;
    const ev = (process: number, type: Op['type'], f: string, value: Op['value'], key?: string): Op => ({
      index: i,
      time: ++i * 1e6,
      type,
      f,
      value,
      process,
      ...(key ? { key } : {}),
    });
    const history: History = [
      // set: 1 acknowledged and lost, 2 failed but present, 7 unexpected
      ev(0, 'invoke', 'add', 1),
      ev(0, 'ok', 'add', 1),
      ev(1, 'invoke', 'add', 2),
      ev(1, 'fail', 'add', 2),
      // append on key "a": 10 acknowledged, then a read that lacks it (lost)
      ev(2, 'invoke', 'append', 10, 'a'),
      ev(2, 'ok', 'append', 10, 'a'),
      ev(3, 'invoke', 'read', null, 'a'),
      ev(3, 'ok', 'read', [], 'a'),
      // bank: a read whose total is wrong, with a negative balance
      ev(4, 'invoke', 'transfer', { from: 'x', to: 'y', amount: 5 }),
      ev(4, 'ok', 'transfer', { from: 'x', to: 'y', amount: 5 }),
      ev(4, 'invoke', 'read', null, 'bank'),
      ev(4, 'ok', 'read', { x: -5, y: 10 }, 'bank'),
      // the set's final read
      ev(5, 'invoke', 'read', null),
      ev(5, 'ok', 'read', [2, 7]),
    ];
    // Each checker reads only its own ops.
    const only = (pred: (op: Op) => boolean) =>
      history.filter((op) =>
        op.type === 'invoke'
          ? pred(op)
          : pred(history.find((o) => o.process === op.process && o.type === 'invoke' && o.index < op.index && o.f === op.f && o.key === op.key)!),
      );
    const setOps = pairOps(only((op) => op.key === undefined && (op.f === 'add' || op.f === 'read')));
    const appendOps = pairOps(only((op) => op.key === 'a'));
    const bankOps = pairOps(only((op) => op.f === 'transfer' || op.key === 'bank'));
    const results = compose({})(history, pairOps(history));
    results.results = { set: setChecker(history, setOps), append: appendChecker(history, appendOps), bank: bankChecker({ total: 10 })(history, bankOps) };
    results.verdict = 'invalid';
    results.valid = false;
    for (const r of Object.values(results.results)) expect(r.verdict).toBe('invalid');

    const html = renderReport({ test: { name: 'anomalies', workload: 'set+append+bank' }, history, results });
    expectSelfContained(html);
    // set: lost 1 (added at event 0), failed but present 2 (event 2), unexpected 7; final read at event 13.
    expect(html).toMatch(/Lost \(acknowledged, missing from the final read\) \(1\)<\/b><ul><li>1: added by <a [^>]*data-event="0">/);
    expect(html).toMatch(/Failed but present \(1\)<\/b><ul><li>2: added by <a [^>]*data-event="2">/);
    expect(html).toMatch(/Unexpected \(never added\) \(1\)<\/b><ul><li>7: added by no op/);
    expect(html).toMatch(/final read: <a [^>]*data-event="13">/);
    // append: the lost element names the append's completion and the read.
    expect(html).toMatch(
      /<b>lost<\/b>, key &quot;a&quot;: append of 10 acknowledged at <a [^>]*data-event="5">event 5<\/a>, missing from read <a [^>]*data-event="7">/,
    );
    // bank: wrong total and the negative balance, with the read.
    expect(html).toMatch(/<b>wrong total<\/b>: read <a [^>]*data-event="11">event 11<\/a> sums to 5, expected 10/);
    expect(html).toMatch(/<b>negative balance<\/b>: read <a [^>]*data-event="11">event 11<\/a> has account x at -5/);
  });

  it('gives one lane per process, and worker lanes past 64 processes', () => {
    const small = reportData(runInput({ ops: 200, processes: 4, infoRate: 0, seed: 5 }).history);
    expect(small.lanes).toEqual(['p0', 'p1', 'p2', 'p3']);
    const many = runInput({ ops: 3000, processes: 6, infoRate: 0.3, seed: 5 });
    const processes = new Set(pairOps(many.history).map((o) => o.process));
    expect(processes.size).toBeGreaterThan(64);
    const data = reportData(many.history);
    expect(data.lanes.length).toBeLessThan(processes.size);
    // No two ops of a lane overlap, except for the open-ended tails of info ops.
    const byLane = new Map<number, number[]>();
    data.ops.lane.forEach((l, i) => byLane.set(l, [...(byLane.get(l) ?? []), i]));
    for (const ids of byLane.values()) {
      ids.sort((a, b) => data.ops.s[a] - data.ops.s[b]);
      for (let k = 1; k < ids.length; k++) {
        const prev = ids[k - 1];
        if (data.ops.type[prev] !== 2) expect(data.ops.e[prev]).toBeLessThanOrEqual(data.ops.s[ids[k]]);
      }
    }
  });
});
