// bench.html: one self-contained page for a bench (opens from disk, no
// network), in report.html's style and with its chart library (uPlot,
// inlined): the figures per point, the throughput-latency curve, the
// percentile spectrum, and throughput and latency over time. And the page of
// `undertow bench compare`: two benches figure by figure.

import type { BenchResult } from './result.js';
import { benchFaults, FAULT_COLUMNS, faultSummary, POINT_COLUMNS, pointSpectrum, pointsById, valuesOf } from './result.js';
import { describeFault } from './availability.js';
import type { Comparison } from './compare.js';
import { median } from './stats.js';
import { benchClient } from './bench-client.js';
import { escapeHtml, jsonForScript, REPORT_CSS, scriptSafe, uplotAssets } from '../../results/report.js';

/** What the page's script draws: columns for uPlot. */
export interface BenchPageData {
  curve: { labels: string[]; x: number[]; series: (number | null)[][] };
  spectrum: { labels: string[]; x: number[]; series: (number | null)[][] };
  time: { x: number[]; ok: (number | null)[]; bad: (number | null)[]; p50: (number | null)[]; p99: (number | null)[]; max: (number | null)[] };
  /** Faults to shade on the charts over time: start, end, and when the system served again (seconds since the bench started). */
  faults: { start: number; end: number; served: number | null; label: string }[];
}

const num = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : x);

export function benchPageData(b: BenchResult): BenchPageData {
  const byId = [...pointsById(b)];
  // The curve: a row per point (medians over repeats), sorted by throughput; closed and open loops as separate series.
  const rows = byId
    .map(([, ps]) => ({
      mode: ps[0].mode,
      x: median(valuesOf(ps, (p) => p.throughput)),
      p50: median(valuesOf(ps, (p) => p.latency.p50)),
      p99: median(valuesOf(ps, (p) => p.latency.p99)),
    }))
    .filter((r) => Number.isFinite(r.x))
    .sort((a, c) => a.x - c.x);
  const curveLabels = ['closed p50', 'closed p99', 'open p50', 'open p99'];
  const curve = {
    labels: curveLabels,
    x: rows.map((r) => r.x),
    series: [
      rows.map((r) => (r.mode === 'closed' ? num(r.p50) : null)),
      rows.map((r) => (r.mode === 'closed' ? num(r.p99) : null)),
      rows.map((r) => (r.mode === 'open' ? num(r.p50) : null)),
      rows.map((r) => (r.mode === 'open' ? num(r.p99) : null)),
    ],
  };
  // The spectrum: every point's histograms over its repeats, at percentiles 1 - 2^(-k/2).
  const spectra = byId.map(([, ps]) => pointSpectrum(ps).filter((e) => e.percentile < 100));
  const steps = Math.max(0, ...spectra.map((s) => s.length));
  const spectrum = {
    labels: byId.map(([id]) => id),
    x: Array.from({ length: steps }, (_, k) => Math.round(2 ** (k / 2) * 1e4) / 1e4),
    series: spectra.map((s) => Array.from({ length: steps }, (_, k) => num(s[k]?.ms))),
  };
  // Over time: each second of each point at its place in the bench, a gap (nulls) between points.
  const time: BenchPageData['time'] = { x: [], ok: [], bad: [], p50: [], p99: [], max: [] };
  for (const p of b.points) {
    p.seconds.forEach((s, i) => {
      time.x.push(Math.round((p.at + i + 0.5) * 1000) / 1000);
      time.ok.push(s.ok);
      time.bad.push(s.fail + s.info);
      time.p50.push(s.p50);
      time.p99.push(s.p99);
      time.max.push(s.max);
    });
    time.x.push(Math.round((p.at + p.seconds.length + 0.25) * 1000) / 1000);
    for (const col of [time.ok, time.bad, time.p50, time.p99, time.max]) col.push(null);
  }
  const faults = benchFaults(b).map(({ point, fault }) => ({
    start: fault.start,
    end: fault.end ?? point.at + point.seconds.length,
    served: fault.servedAgainAt,
    label: describeFault(fault),
  }));
  return { curve, spectrum, time, faults };
}

const FAULTS_NOTE =
  "Each fault from its start op to its stop op (heal-all at the end of the faults' part of the window). Availability: the share of ops ok among those sent from the fault's start until it ended or the system served again, whichever came later. Served again: when every key bucket (keys hashed into 16) had an op succeed that was sent after its last failed or unknown one. Longest ok: a stall that failed nothing shows there.";

const CSS = `.note{max-width:1000px}.worse{background:#fbe3e1}.better{background:#e3f4e6}.flag{font-weight:600}`;

function page(title: string, body: string, data: BenchPageData | null): string {
  const uplot = uplotAssets();
  const script =
    data === null
      ? `<script>document.body.dataset.ready = 'true';</script>`
      : `<script id="bench-data" type="application/json">${jsonForScript(data)}</script>
<script>${scriptSafe(uplot.js)}</script>
<script>
(${scriptSafe(benchClient.toString())})(JSON.parse(document.getElementById('bench-data').textContent), typeof uPlot === 'undefined' ? undefined : uPlot);
</script>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${uplot.css}</style>
<style>${REPORT_CSS}${CSS}</style>
</head><body><main>
${body}
<p class="muted">Charts drawn with uPlot ${escapeHtml(uplot.version)} (inlined); latency quantiles from HDR histograms (hdr-histogram-js). Written by undertow.</p>
</main>
${script}
</body></html>
`;
}

const kv = (rows: [string, unknown][]) =>
  `<table class="test">${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)))}</td></tr>`).join('')}</table>`;

export function renderBenchHtml(b: BenchResult): string {
  const c = b.config;
  const byId = [...pointsById(b)];
  const rows = byId
    .map(([id, ps]) => `<tr><td>${escapeHtml(id)}</td>${POINT_COLUMNS.map((col) => `<td>${escapeHtml(col.cell(ps))}</td>`).join('')}</tr>`)
    .join('');
  const faults = benchFaults(b);
  const faultRows = faults
    .map(({ point, fault }) => `<tr>${FAULT_COLUMNS.map((col) => `<td>${escapeHtml(col.cell(point, fault))}</td>`).join('')}</tr>`)
    .join('');
  const errors = Object.entries(
    b.points.reduce<Record<string, number>>((acc, p) => {
      for (const [e, n] of Object.entries(p.errors)) acc[e] = (acc[e] ?? 0) + n;
      return acc;
    }, {}),
  );
  const machineSplit = b.points.length > 0 ? b.points[b.points.length - 1].cpu.machine : {};
  const status = b.failure ? `failed: ${b.failure}` : b.interrupted ? 'interrupted' : 'complete';
  const body = `<h1>${escapeHtml(c.name)} <span class="muted">bench, ${escapeHtml(status)}</span></h1>
${kv([
  ['system', `${c.system} ${JSON.stringify(b.system.options)}`],
  ['provider', c.provider],
  ['workload', `${c.workload}: ${Math.round(c.readFraction * 100)}% reads over ${c.keys} keys (seed ${c.seed})`],
  ['points', `closed loops at concurrency ${c.concurrency.join(', ') || '-'}; open loops at ${c.rates.join(', ') || '-'} ops/s with ${c.openClients} clients`],
  [
    'faults',
    c.faults.nemesis.length > 0
      ? `${c.faults.nemesis.join(', ')} aimed at ${c.faults.targets.join(', ')}, every ${c.faults.nemesisInterval} s in each point's window (seed ${c.seed})`
      : 'none',
  ],
  ['timing', `${c.warmupS} s warm-up (discarded) + ${c.durationS} s measured per point, ${c.repeat} repeat(s), op timeout ${c.opTimeoutMs} ms`],
  [
    'machine',
    `${b.machine.cores} cores (${b.machine.cpuModel}), ${b.machine.totalMemMB} MB, ${b.machine.platform}, node ${b.machine.node}; load average ${b.machine.loadavg.join(' ')} before, ${b.machine.loadAfter?.join(' ') ?? '-'} after`,
  ],
  [
    'CPU split (last point)',
    Object.entries(machineSplit)
      .map(([k, v]) => `${k} ${v}%`)
      .join(', ') || 'unknown',
  ],
  ['run', `${b.startedAt} to ${b.endedAt ?? '-'}; undertow ${b.versions.undertow}`],
])}
<h2>Figures</h2>
<p class="muted note">Per point, the median (min-max) over the repeats. Latency of ok ops; in an open loop from each op's intended start (coordinated omission corrected), so waiting for a free client counts; service time counts from sending. Unsent: ops due in an open loop that no client was free to send before the window ended (the rate is beyond what the system serves).</p>
<table class="num" id="figures"><tr><th>point</th>${POINT_COLUMNS.map((col) => `<th>${escapeHtml(col.head)}</th>`).join('')}</tr>${rows}</table>
${errors.length > 0 ? `<h3>Errors</h3><table class="num">${errors.map(([e, n]) => `<tr><td>${escapeHtml(e)}</td><td>${n}</td></tr>`).join('')}</table>` : ''}
${
  faults.length > 0
    ? `<h2>Faults</h2>
<p class="muted note">${escapeHtml(faultSummary(b))}. ${escapeHtml(FAULTS_NOTE)}</p>
<table class="num" id="faults"><tr>${FAULT_COLUMNS.map((col) => `<th>${escapeHtml(col.head)}</th>`).join('')}</tr>${faultRows}</table>`
    : ''
}
<h2>Throughput and latency</h2>
<p class="muted">One point per bench point (medians over repeats): as the load rises, throughput levels off and latency climbs.</p>
<div id="curve" class="plot"></div>
<h2>Percentile spectrum</h2>
<p class="muted">Latency at each percentile, all repeats of a point together, from its HDR histograms.</p>
<div id="spectrum" class="plot"></div>
<h2>Over time</h2>
<p class="muted">Every second of every measured window, in the order they ran (warm-ups left out, so the gaps)${faults.length > 0 ? '; each fault shaded from its start to its end, and lighter until the system served again' : ''}.</p>
<div id="tput-time" class="plot"></div>
<div id="lat-time" class="plot"></div>`;
  return page(`${c.name}: bench`, body, benchPageData(b));
}

export function renderCompareHtml(cmp: Comparison): string {
  const rows = cmp.rows
    .map((r) => {
      const cls = r.verdict === 'worse' ? 'worse' : r.verdict === 'better' ? 'better' : '';
      return `<tr class="${cls}"><td>${escapeHtml(r.point)}</td><td>${escapeHtml(r.figure)}</td><td>${escapeHtml(r.a)}</td><td>${escapeHtml(r.b)}</td><td>${escapeHtml(r.change)}</td><td>${escapeHtml(r.interval)}</td><td>${escapeHtml(r.p)}</td><td class="flag">${escapeHtml(r.verdict === 'same' ? '~' : r.verdict)}</td></tr>`;
    })
    .join('');
  const body = `<h1>bench compare <span class="muted">${escapeHtml(cmp.a.label)} → ${escapeHtml(cmp.b.label)}</span></h1>
${kv([
  ['A', `${cmp.a.dir} (${cmp.a.runs} runs a point)`],
  ['B', `${cmp.b.dir} (${cmp.b.runs} runs a point)`],
  ['rule', cmp.rule],
])}
${cmp.notes.map((n) => `<p class="muted note">${escapeHtml(n)}</p>`).join('')}
<table class="num" id="comparison"><tr><th>point</th><th>figure</th><th>A</th><th>B</th><th>change</th><th>95% interval</th><th>p</th><th>verdict</th></tr>${rows}</table>`;
  return page(`bench compare ${cmp.a.label} → ${cmp.b.label}`, body, null);
}
