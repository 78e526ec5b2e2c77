// A run's report.html: one self-contained file (every script, style and datum
// inlined) that opens from disk with no server and no network.
//
// Charts: uPlot (https://github.com/leeoniya/uPlot, MIT), read from
// node_modules at render time and inlined. Chosen because it is small (~50 KB
// minified, no dependencies), draws on canvas, and stays fast with 100,000+
// points (the latency plot has one point per ok op), where SVG/DOM chart
// libraries slow down by orders of magnitude. The op timeline is our own
// canvas drawing (one lane per process, as Jepsen's timeline.html), because no
// chart library draws Gantt-like op bars with per-op hover at that scale.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { History, Value } from '../history/types.js';
import type { Coverage } from '../harness/core/coverage.js';
import type { CheckerResult, ComposedResult, Verdict } from '../checkers/result.js';
import type { LinearizabilityResult } from '../checkers/linearizability/check.js';
import { renderText, type Counterexample, type OpSummary } from '../checkers/linearizability/counterexample.js';
import type { SetResult } from '../checkers/set.js';
import type { AppendAnomaly, AppendResult } from '../checkers/append.js';
import type { BankAnomaly, BankResult } from '../checkers/bank.js';
import type { PerfResult, StatsResult, Latencies } from '../checkers/stats.js';
import { reportData } from './report-data.js';
import { reportClient } from './report-client.js';

export interface ReportInput {
  /** The test as run: name, workload, nemesis, seed, versions, ... (printed at the top). */
  test: Record<string, unknown>;
  history: History;
  /** results.json: with `coverage` when the run recorded what its faults achieved. */
  results: ComposedResult & { coverage?: Coverage };
}

const require = createRequire(import.meta.url);
let uplotCache: { js: string; css: string; version: string } | undefined;

/** uPlot's browser build and stylesheet, from node_modules. */
export function uplotAssets(): { js: string; css: string; version: string } {
  if (!uplotCache) {
    const pkg = require.resolve('uplot/package.json');
    uplotCache = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
      version: (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version,
    };
  }
  return uplotCache;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Text safe inside a <script> element: no `</script`, no `<!--`. */
export function scriptSafe(s: string): string {
  return s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** JSON safe inside a <script> element and parseable by JSON.parse. */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const badge = (v: Verdict | string) => `<span class="verdict ${escapeHtml(String(v))}">${escapeHtml(String(v))}</span>`;

/** A link that shows the event's op on the timeline. */
const ev = (index: number | null | undefined, label?: string) =>
  index === null || index === undefined || index < 0
    ? '?'
    : `<a href="#timeline-section" class="ev" data-event="${index}">${escapeHtml(label ?? `event ${index}`)}</a>`;

// ---------------------------------------------------------------------------
// The counterexample, drawn after Porcupine: the key's ops around the failure
// on a small timeline, one lane per process; the prefix ops numbered in their
// linearization order, with the state after each; the stuck op in red; the
// ops concurrent with it outlined.

const MAX_DRAWN_PREFIX = 16;
const MAX_DRAWN = 40;

interface Drawn {
  op: OpSummary;
  role: 'prefix' | 'stuck' | 'concurrent' | 'open';
  order?: number;
  stateAfter?: string;
}

export function counterexampleSvg(ce: Counterexample): string {
  const byInvoke = new Map<number, Drawn>();
  const add = (d: Drawn) => {
    if (byInvoke.size >= MAX_DRAWN && !byInvoke.has(d.op.invokeIndex)) return;
    const had = byInvoke.get(d.op.invokeIndex);
    if (!had || (had.role !== 'stuck' && had.role !== 'prefix')) byInvoke.set(d.op.invokeIndex, { ...had, ...d });
  };
  if (ce.stuck) add({ op: ce.stuck, role: 'stuck' });
  const first = Math.max(0, ce.prefix.length - MAX_DRAWN_PREFIX);
  ce.prefix.slice(first).forEach((step, k) => add({ op: step.op, role: 'prefix', order: first + k + 1, stateAfter: step.stateAfter }));
  // An op of the prefix that is also concurrent keeps its number, gets the outline too.
  const concurrent = new Set(ce.concurrent.map((o) => o.invokeIndex));
  for (const a of ce.attempts) add({ op: a.op, role: 'open' });
  for (const o of ce.concurrent) add({ op: o, role: 'concurrent' });
  const drawn = [...byInvoke.values()];
  if (drawn.length === 0) return '';

  // x: the rank of each event among the drawn ops' endpoints (evenly spaced,
  // so short ops stay readable); an op with no completion runs to the right edge.
  const points = new Set<number>();
  for (const d of drawn) {
    points.add(d.op.invokeIndex);
    if (d.op.completeIndex !== null) points.add(d.op.completeIndex);
  }
  const sorted = [...points].sort((a, b) => a - b);
  const rank = new Map(sorted.map((e, i) => [e, i]));
  const processes = [...new Set(drawn.map((d) => d.op.process))].sort((a, b) => a - b);
  const LEFT = 60;
  const STEP = Math.max(58, Math.min(110, 1300 / Math.max(1, sorted.length)));
  // The key is in the heading; the bars say only the op.
  const label = (o: OpSummary) => o.description.replace(/^\[[^\]]*\]\s*/, '');
  const LANE = 52;
  const TOP = 6;
  const width = LEFT + (sorted.length + 1) * STEP + 20;
  const height = TOP + processes.length * LANE + 10;
  const xOf = (e: number | null) => LEFT + (e === null ? sorted.length + 0.6 : rank.get(e)! + 0.5) * STEP;
  const yOf = (p: number) => TOP + processes.indexOf(p) * LANE;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="ce-svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="counterexample timeline">`,
  );
  processes.forEach((p, i) => {
    const y = TOP + i * LANE;
    if (i % 2 === 1) parts.push(`<rect x="0" y="${y - 2}" width="${width}" height="${LANE}" fill="#f6f6f6"/>`);
    parts.push(`<text x="6" y="${y + 23}" class="lane">p${p}</text>`);
  });
  // Linearization points: within each prefix op's interval, in order.
  const linPoints: { x: number; y: number; d: Drawn }[] = [];
  let lastX = -Infinity;
  for (const d of drawn.filter((d) => d.role === 'prefix').sort((a, b) => a.order! - b.order!)) {
    const a = xOf(d.op.invokeIndex);
    const b = xOf(d.op.completeIndex);
    const x = Math.min(b - 4, Math.max(a + 4, lastX + 6));
    lastX = x;
    linPoints.push({ x, y: yOf(d.op.process) + 5, d });
  }
  for (const d of drawn) {
    const a = xOf(d.op.invokeIndex);
    const b = xOf(d.op.completeIndex);
    const y = yOf(d.op.process);
    const cls = `op ${d.role}${concurrent.has(d.op.invokeIndex) && d.role !== 'concurrent' ? ' concurrent-too' : ''}${d.op.completeIndex === null ? ' unknown' : ''}`;
    const title =
      `${d.op.description} (process ${d.op.process}, events ${d.op.invokeIndex}..${d.op.completeIndex ?? '?'}, ${d.op.type})` +
      (d.role === 'prefix'
        ? `\n#${d.order} in the linearization; state after: ${d.stateAfter}`
        : d.role === 'stuck'
          ? `\ncannot be linearized in state ${ce.state}`
          : '');
    parts.push(`<g class="${cls}"><title>${escapeHtml(title)}</title>`);
    parts.push(`<rect x="${a}" y="${y + 9}" width="${Math.max(6, b - a)}" height="20" rx="3"/>`);
    parts.push(`<text x="${a + 4}" y="${y + 23}" class="desc">${escapeHtml(label(d.op))}</text>`);
    if (d.role === 'prefix') parts.push(`<text x="${a + 2}" y="${y + 41}" class="state">→ ${escapeHtml(d.stateAfter ?? '')}</text>`);
    if (d.role === 'stuck') parts.push(`<text x="${a + 2}" y="${y + 41}" class="stuck-label">✗ not linearizable in ${escapeHtml(ce.state)}</text>`);
    parts.push('</g>');
  }
  if (linPoints.length > 1) {
    parts.push(`<polyline class="lin" points="${linPoints.map((p) => `${p.x},${p.y}`).join(' ')}"/>`);
  }
  for (const p of linPoints) {
    parts.push(
      `<circle class="lin-pt" cx="${p.x}" cy="${p.y}" r="7"/><text class="lin-num" x="${p.x}" y="${p.y + 3}" text-anchor="middle">${p.d.order}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

function opCell(o: OpSummary): string {
  return `${escapeHtml(o.description)} <span class="muted">p${o.process}, ${ev(o.invokeIndex, `e${o.invokeIndex}`)}..${o.completeIndex === null ? '?' : ev(o.completeIndex, `e${o.completeIndex}`)}, ${o.type}</span>`;
}

function counterexampleHtml(ce: Counterexample, model: string): string {
  const out: string[] = [];
  out.push(
    `<div class="ce"><h4>Key ${escapeHtml(ce.key === null ? '(whole history)' : JSON.stringify(ce.key))} is not linearizable <span class="muted">(model ${escapeHtml(model)})</span></h4>`,
  );
  out.push('<p class="legend">');
  out.push('<span class="sw prefix"></span> linearizable prefix (numbered in linearization order, state after each step) ');
  out.push('<span class="sw stuck"></span> the op that could not be linearized ');
  out.push('<span class="sw concurrent"></span> concurrent with it ');
  out.push('<span class="sw open"></span> open, tried in the final state');
  out.push('</p>');
  if (ce.prefix.length > MAX_DRAWN_PREFIX)
    out.push(`<p class="muted">Ops #1..#${ce.prefix.length - MAX_DRAWN_PREFIX} of the prefix are listed below, not drawn.</p>`);
  out.push(`<div class="ce-scroll">${counterexampleSvg(ce)}</div>`);
  if (ce.stuck) {
    out.push(`<p><b>Stuck:</b> ${opCell(ce.stuck)} returned, but it cannot be linearized in state <code>${escapeHtml(ce.state)}</code>.</p>`);
  }
  if (ce.attempts.length > 0) {
    out.push('<table class="attempts"><tr><th>open op</th><th>applied in the state after the prefix</th></tr>');
    for (const a of ce.attempts) out.push(`<tr><td>${opCell(a.op)}</td><td>${escapeHtml(a.outcome)}</td></tr>`);
    out.push('</table>');
  }
  if (ce.concurrent.length > 0) {
    out.push(`<p><b>Concurrent with the stuck op:</b> ${ce.concurrent.map(opCell).join('; ')}</p>`);
  }
  out.push(
    `<details${ce.prefix.length <= 40 ? ' open' : ''}><summary>Longest linearizable prefix (${ce.prefix.length} ops)</summary><table class="prefix"><tr><th>#</th><th>op</th><th>state after</th></tr>`,
  );
  ce.prefix.forEach((s, i) => out.push(`<tr><td>${i + 1}</td><td>${opCell(s.op)}</td><td><code>${escapeHtml(s.stateAfter)}</code></td></tr>`));
  out.push('</table></details>');
  out.push(`<pre class="ce-text">${escapeHtml(renderText(ce))}</pre></div>`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------
// One section per checker.

function linearizabilityHtml(r: LinearizabilityResult): string {
  const out: string[] = [];
  out.push(
    `<p>${r.ops} client ops, ${r.searched} searched${r.pruned ? ` (${r.pruned} unknown writes nothing read left out)` : ''} in ${r.partitions} part${r.partitions === 1 ? '' : 's'}, ${r.ms.toFixed(1)} ms.${r.gaveUp ? ` Gave up: ${escapeHtml(r.gaveUp)} budget ran out.` : ''}</p>`,
  );
  if (r.unknownKeys.length > 0)
    out.push(
      `<p>Keys not searched to the end (the search stops at the first failure, or ran out of budget): ${escapeHtml(r.unknownKeys.map((k) => JSON.stringify(k)).join(', '))}</p>`,
    );
  for (const ce of r.failures) out.push(counterexampleHtml(ce, r.model));
  return out.join('\n');
}

const elems = (xs: (string | number)[], max = 200) =>
  xs.length === 0
    ? '<span class="muted">none</span>'
    : escapeHtml(
        xs
          .slice(0, max)
          .map((x) => JSON.stringify(x))
          .join(', '),
      ) + (xs.length > max ? ` … (${xs.length - max} more)` : '');

function setHtml(r: SetResult, addOf: Map<string, number[]>): string {
  const withOps = (label: string, xs: (string | number)[], bad: boolean) => {
    const rows = xs
      .slice(0, 100)
      .map((x) => `<li>${escapeHtml(JSON.stringify(x))}: added by ${(addOf.get(JSON.stringify(x)) ?? []).map((e) => ev(e)).join(', ') || 'no op'}</li>`);
    return `<div class="${bad && xs.length ? 'anomaly' : ''}"><b>${label} (${xs.length})</b>${xs.length ? `<ul>${rows.join('')}${xs.length > 100 ? `<li>… ${xs.length - 100} more</li>` : ''}</ul>` : ': <span class="muted">none</span>'}</div>`;
  };
  return [
    `<p>${r.attempted} elements attempted, ${r.acknowledged} acknowledged; final read: ${r.finalRead === null ? 'none' : ev(r.finalRead)}.</p>`,
    withOps('Lost (acknowledged, missing from the final read)', r.lost, true),
    withOps('Unexpected (never added)', r.unexpected, true),
    withOps('Failed but present', r.failedButPresent, true),
    `<p>Recovered (unknown outcome, present): ${elems(r.recovered)}. Unknown and never read: ${r.neverRead}.</p>`,
  ].join('\n');
}

function appendAnomaly(a: AppendAnomaly): string {
  const key = `key ${escapeHtml(JSON.stringify(a.key))}`;
  switch (a.kind) {
    case 'incompatible-order':
      return `<b>incompatible order</b>, ${key}: read ${ev(a.read)} got ${escapeHtml(JSON.stringify(a.got))}, not a prefix of ${escapeHtml(JSON.stringify(a.expectedPrefixOf))}`;
    case 'duplicate':
      return `<b>duplicate</b>, ${key}: read ${ev(a.read)} holds ${escapeHtml(JSON.stringify(a.element))} twice`;
    case 'unexpected':
      return `<b>unexpected</b>, ${key}: read ${ev(a.read)} holds ${escapeHtml(JSON.stringify(a.element))}, which nobody appended`;
    case 'failed-but-present':
      return `<b>failed but present</b>, ${key}: read ${ev(a.read)} holds ${escapeHtml(JSON.stringify(a.element))}, whose append failed`;
    case 'lost':
      return `<b>lost</b>, ${key}: append of ${escapeHtml(JSON.stringify(a.element))} acknowledged at ${ev(a.appendedAt)}, missing from read ${ev(a.read)}`;
    case 'stale-read':
      return `<b>stale read</b>, ${key}: read ${ev(a.read)} saw ${a.length} elements, after read ${ev(a.earlierRead)} had completed with ${a.earlierLength}`;
  }
}

function bankAnomaly(a: BankAnomaly): string {
  switch (a.kind) {
    case 'wrong-total':
      return `<b>wrong total</b>: read ${ev(a.read)} sums to ${a.total}, expected ${a.expected}: <code>${escapeHtml(JSON.stringify(a.balances))}</code>`;
    case 'negative':
      return `<b>negative balance</b>: read ${ev(a.read)} has account ${escapeHtml(a.account)} at ${a.balance}`;
    case 'malformed-read':
      return `<b>malformed read</b>: read ${ev(a.read)} returned <code>${escapeHtml(JSON.stringify(a.value) ?? 'undefined')}</code>`;
  }
}

function anomalyList(items: string[], count: number): string {
  if (count === 0) return '<p class="muted">No anomalies.</p>';
  return `<p>${count} anomal${count === 1 ? 'y' : 'ies'}${count > items.length ? ` (first ${items.length} listed)` : ''}:</p><ul class="anomalies">${items.map((i) => `<li>${i}</li>`).join('')}</ul>`;
}

const countsRow = (label: string, c: { count: number; ok: number; fail: number; info: number }) =>
  `<tr><td>${escapeHtml(label)}</td><td>${c.count}</td><td class="ok">${c.ok}</td><td class="fail">${c.fail}</td><td class="info">${c.info}</td></tr>`;

function statsHtml(r: StatsResult): string {
  const rows = Object.entries(r.byF).map(([f, c]) => countsRow(f, c));
  return (
    `<table class="num"><tr><th>f</th><th>ops</th><th>ok</th><th>fail</th><th>info</th></tr>${rows.join('')}${countsRow('all', r.all)}</table>` +
    (r.neverOk.length ? `<p class="anomaly">Never succeeded: ${escapeHtml(r.neverOk.join(', '))}</p>` : '')
  );
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 3 : 1) : '-');
const latRow = (label: string, l: Latencies) =>
  `<tr><td>${escapeHtml(label)}</td><td>${l.count}</td><td>${ms(l.mean)}</td><td>${ms(l.p50)}</td><td>${ms(l.p95)}</td><td>${ms(l.p99)}</td><td>${ms(l.p999)}</td><td>${ms(l.max)}</td></tr>`;

function perfHtml(r: PerfResult): string {
  const rows = Object.entries(r.latencyByF).map(([f, l]) => latRow(f, l));
  if (r.latency) rows.push(latRow('all', r.latency));
  return (
    `<p>Duration ${r.duration.toFixed(3)} s, ${r.throughput.toFixed(1)} ok ops/s.</p>` +
    `<table class="num"><tr><th>f</th><th>ok ops</th><th>mean ms</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th></tr>${rows.join('')}</table>`
  );
}

/** What a section may need besides its result: the add op of each set element (by JSON). */
/** The node-log checks' result (harness/run/coverage.ts's NodeLogsResult), as far as the report reads it. */
interface NodeLogsView {
  matches: { node: string; line: number; text: string; what: string }[];
  matchCount: number;
  anomalies: { kind: string; what: string; at?: { node: string; line: number }[] }[];
  notes: string[];
}

function nodeLogsHtml(r: NodeLogsView): string {
  const where = (at: { node: string; line: number }[] | undefined) =>
    at?.length ? ` <span class="muted">(${at.map((a) => `${escapeHtml(a.node)}.log line ${a.line}`).join(', ')})</span>` : '';
  const matches = r.matches.map((m) => `${escapeHtml(m.what)}: ${escapeHtml(m.node)}.log line ${m.line}: <code>${escapeHtml(m.text)}</code>`);
  return (
    `<p>Lines that must never appear: ${r.matchCount === 0 ? 'none found.' : ''}</p>` +
    (r.matchCount > 0 ? anomalyList(matches, r.matchCount) : '') +
    `<p>The system's own checks: ${r.anomalies.length === 0 ? 'no anomalies.' : ''}</p>` +
    (r.anomalies.length > 0
      ? anomalyList(
          r.anomalies.map((a) => `<b>${escapeHtml(a.kind)}</b>: ${escapeHtml(a.what)}${where(a.at)}`),
          r.anomalies.length,
        )
      : '') +
    `<ul class="muted">${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`
  );
}

/** What the run's faults achieved (harness/core/coverage.ts). */
export function coverageHtml(c: Coverage | undefined): string {
  if (c === undefined) return '<p class="muted">This run recorded no coverage (it predates it, or its cluster never started).</p>';
  const f = c.faults;
  const rows: [string, string][] = [
    [
      'primary changes',
      `${c.primaryChangesTotal}${
        Object.keys(c.primaryChanges).length
          ? ` (${Object.entries(c.primaryChanges)
              .map(([g, n]) => `${g} ${n}`)
              .join(', ')})`
          : ''
      }`,
    ],
    ['leader changes', `${c.leaderChanges}${c.leaders.length ? ` (seen leading: ${c.leaders.join(', ')})` : ''}`],
    ['replicas removed / re-added', `${c.membersRemoved} / ${c.membersReadded}`],
    ['faults done', `kills ${f.kills}, restarts ${f.restarts}, pauses ${f.pauses}, partitions ${f.partitions}, clock ${f.clock}, membership ${f.member}`],
    ...Object.entries(c.system).map(([k, n]): [string, string] => [`system: ${k}`, String(n)]),
    ['view samples', `${c.samples} (${c.unanswered} unanswered)`],
  ];
  return (
    `<p class="${c.achievedNothing ? 'anomaly' : ''}">${escapeHtml(c.line)}</p>` +
    `<table>${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('')}</table>` +
    (c.changes?.length
      ? `<details><summary>${c.changes.length} changes as the view saw them</summary><table>${c.changes
          .map((x) => `<tr><td>${x.t.toFixed(3)} s</td><td>${escapeHtml(x.what)}</td></tr>`)
          .join('')}</table></details>`
      : '') +
    '<p class="muted">Leaders, primaries and replicas as the system\'s view answered them, sampled through the run; faults from the nemesis ops; system counts from its nodes\' logs.</p>'
  );
}

export interface SectionContext {
  readonly addOf: Map<string, number[]>;
}

/**
 * The report's section for each checker, keyed by the `checker` name its
 * result carries: the one place a new checker adds its rendering. A result
 * with no entry is shown as its JSON.
 */
export const CHECKER_SECTIONS: Record<string, (r: CheckerResult, ctx: SectionContext) => string> = {
  linearizability: (r) => linearizabilityHtml(r as unknown as LinearizabilityResult),
  set: (r, ctx) => setHtml(r as SetResult, ctx.addOf),
  append: (r) => {
    const a = r as AppendResult;
    return `<p>${a.keys} keys, ${a.appends} appends, ${a.reads} reads.</p>` + anomalyList(a.anomalies.map(appendAnomaly), a.anomalyCount);
  },
  bank: (r) => {
    const b = r as BankResult;
    return (
      `<p>${b.reads} reads; transfers ok ${b.transfers.ok}, fail ${b.transfers.fail}, info ${b.transfers.info}.</p>` +
      anomalyList(b.anomalies.map(bankAnomaly), b.anomalyCount)
    );
  },
  stats: (r) => statsHtml(r as StatsResult),
  perf: (r) => perfHtml(r as PerfResult),
  'node-logs': (r) => nodeLogsHtml(r as unknown as NodeLogsView),
};

function checkerHtml(name: string, r: CheckerResult, addOf: Map<string, number[]>): string {
  const render = Object.hasOwn(CHECKER_SECTIONS, r.checker) ? CHECKER_SECTIONS[r.checker] : undefined;
  let body: string;
  if (render) body = render(r, { addOf });
  else {
    const { checker: _c, verdict: _v, valid: _va, ...rest } = r;
    body = `<pre>${escapeHtml(JSON.stringify(rest, null, 2))}</pre>`;
  }
  return `<section class="checker" id="checker-${escapeHtml(name)}"><h3>${escapeHtml(name)} <span class="muted">(${escapeHtml(String(r.checker))})</span> ${badge(r.verdict)}</h3>\n${body}</section>`;
}

// ---------------------------------------------------------------------------

export const REPORT_CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1400px;margin:0 auto;padding:16px 24px 60px}
h1{font-size:22px;margin:4px 0 8px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px} h3{font-size:16px;margin:18px 0 6px} h4{margin:10px 0 6px}
.verdict{display:inline-block;padding:1px 9px;border-radius:10px;font-weight:600;font-size:13px;color:#fff;vertical-align:middle}
.verdict.valid{background:#2e9e48}.verdict.invalid{background:#d33a2c}.verdict.unknown{background:#d98f00}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #e2e2e2;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
table.num td:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}
.test td:first-child{font-weight:600;color:#555}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}.summary .item{border:1px solid #ddd;border-radius:6px;padding:6px 10px}
.muted{color:#777;font-size:12px} code{background:#f3f3f3;padding:0 3px;border-radius:3px}
td.ok{color:#2a6fb5}td.fail{color:#c2185b}td.info{color:#b8700a}
.legend{font-size:12px;color:#444}.sw{display:inline-block;width:14px;height:10px;border-radius:2px;vertical-align:middle;margin:0 3px 0 10px}
.sw.ok{background:#4f9ee8}.sw.fail{background:#e0529c}.sw.info{background:#f5a623;opacity:.5}.sw.fault{background:rgba(220,60,60,.25)}
.sw.prefix{background:#cfe8cf;border:1px solid #3c8d3c}.sw.stuck{background:#f8c4c0;border:2px solid #d33a2c}.sw.concurrent{background:#fff;border:2px dashed #e08a00}.sw.open{background:#eee;border:1px solid #999}
.tl-wrap{position:relative;border:1px solid #ddd;border-radius:4px;user-select:none}
#timeline{display:block;cursor:grab}
#tip{position:absolute;display:none;pointer-events:none;background:rgba(255,255,255,.97);border:1px solid #999;border-radius:4px;padding:5px 8px;font:12px/1.35 ui-monospace,monospace;white-space:pre;box-shadow:0 2px 6px rgba(0,0,0,.15);z-index:5;max-width:420px;overflow:hidden}
#op-details{min-height:1.2em;background:#fafafa;border:1px solid #eee;padding:6px 8px;font-size:12px;margin:6px 0}
.controls button{font-size:12px;margin-right:4px}
.plot{margin:6px 0 4px}
.ce{border:1px solid #f0c4c0;border-radius:6px;padding:8px 12px;margin:10px 0;background:#fffafa}
.ce-scroll{overflow-x:auto;background:#fff;border:1px solid #eee;margin:6px 0}
.ce-svg text{font:11px ui-monospace,monospace}.ce-svg text.lane{font-weight:600;fill:#555}
.ce-svg .op rect{fill:#eee;stroke:#999}.ce-svg .op.prefix rect{fill:#cfe8cf;stroke:#3c8d3c}
.ce-svg .op.stuck rect{fill:#f8c4c0;stroke:#d33a2c;stroke-width:2.5}.ce-svg .op.concurrent rect{fill:#fff;stroke:#e08a00;stroke-width:2;stroke-dasharray:5 3}
.ce-svg .op.concurrent-too rect{stroke:#e08a00;stroke-width:2;stroke-dasharray:5 3}.ce-svg .op.unknown rect{fill-opacity:.55}
.ce-svg text.state{fill:#2d6a2d;font-size:10px}.ce-svg text.stuck-label{fill:#b3261e;font-weight:600;font-size:10px}
.ce-svg .lin{fill:none;stroke:#3c8d3c;stroke-width:1.5;stroke-dasharray:3 3}.ce-svg .lin-pt{fill:#3c8d3c}.ce-svg text.lin-num{fill:#fff;font-size:9px;font-weight:700}
pre.ce-text{background:#f7f7f7;border:1px solid #e5e5e5;padding:8px;overflow-x:auto;font-size:12px}
.anomaly{color:#b3261e}ul.anomalies li{margin:2px 0}
a.ev{color:#1a5fb4;text-decoration:none;border-bottom:1px dotted #1a5fb4}
`;

export function renderReport(input: ReportInput): string {
  const { test, history, results } = input;
  const data = reportData(history);
  const uplot = uplotAssets();
  const title = typeof test.name === 'string' ? test.name : 'undertow run';

  // Event indices of each set element's adds, for the set checker's lists.
  const addOf = new Map<string, number[]>();
  for (const op of history) {
    if (op.f === 'add' && op.type === 'invoke' && typeof op.process === 'number') {
      const k = JSON.stringify(op.value as Value);
      const list = addOf.get(k) ?? [];
      list.push(op.index);
      addOf.set(k, list);
    }
  }

  const testRows = Object.entries(test)
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)))}</td></tr>`)
    .join('');
  const faultKinds = [...new Set(data.faults.map((f) => f.f).concat(data.marks.map((m) => m.f)))];
  const verdicts = Object.entries(results.results)
    .map(([name, r]) => `<div class="item"><a href="#checker-${escapeHtml(name)}">${escapeHtml(name)}</a> ${badge(r.verdict)}</div>`)
    .join('');
  const clientOps = data.ops.s.length;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}: ${escapeHtml(results.verdict)}</title>
<style>${uplot.css}</style>
<style>${REPORT_CSS}</style>
</head><body><main>
<h1>${escapeHtml(title)} <span id="overall">${badge(results.verdict)}</span></h1>
<table class="test">${testRows}
<tr><td>history</td><td>${history.length} events, ${clientOps} client ops, ${data.lanes.length} lanes, ${data.end.toFixed(3)} s; faults: ${faultKinds.length ? escapeHtml(faultKinds.join(', ')) : 'none'} (${data.faults.length} intervals)</td></tr></table>
<div class="summary" id="verdicts">${verdicts}</div>

<h2 id="coverage">Fault coverage</h2>
${coverageHtml(results.coverage)}

<h2 id="timeline-section">Timeline</h2>
<div class="controls"><button id="zoom-in">zoom in</button><button id="zoom-out">zoom out</button><button id="zoom-reset">reset</button>
<span class="legend"><span class="sw ok"></span>ok <span class="sw fail"></span>fail <span class="sw info"></span>info (unknown outcome, runs to the end of the run or to the lane's next op) <span class="sw fault"></span>fault in force. Wheel: zoom, drag: pan, double-click: reset, hover: the op, click: keep it below.</span></div>
<div class="tl-wrap"><canvas id="timeline" width="800" height="200"></canvas><div id="tip"></div></div>
<pre id="op-details"></pre>

<h2>Latency</h2>
<p class="muted">Each point is an ok op (at its invocation), one colour per f; lines are p50/p95/p99 over ${data.latency.bucket} s buckets. Shaded: faults. Drag to zoom, double-click to reset.</p>
<div id="latency" class="plot"></div>
<h2>Throughput</h2>
<p class="muted">Completions per second over ${data.throughput.bucket} s buckets: ok per f, and fail and info of all fs. Shaded: faults.</p>
<div id="throughput" class="plot"></div>

<h2>Checkers</h2>
${Object.entries(results.results)
  .map(([name, r]) => checkerHtml(name, r, addOf))
  .join('\n')}
<p class="muted">Charts drawn with uPlot ${escapeHtml(uplot.version)} (inlined). Report written by undertow.</p>
</main>
<script id="report-data" type="application/json">${jsonForScript(data)}</script>
<script>${scriptSafe(uplot.js)}</script>
<script>
(${scriptSafe(reportClient.toString())})(JSON.parse(document.getElementById('report-data').textContent), typeof uPlot === 'undefined' ? undefined : uPlot);
</script>
</body></html>
`;
}
