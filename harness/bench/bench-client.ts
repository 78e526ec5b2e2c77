// bench.html's script. It runs in the browser, not in Node: renderBenchHtml
// inlines this function's source (as report.html does with report-client.ts)
// and calls it with the page's data and uPlot. So it must stay
// self-contained: no imports, no references outside its body.

import type { BenchPageData } from './bench-html.js';

type UPlotCtor = new (opts: object, data: (number | null)[][], target: HTMLElement) => unknown;

export function benchClient(data: BenchPageData, UPlot: UPlotCtor | undefined): void {
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#e377c2', '#7f7f7f', '#bcbd22'];
  const width = () => Math.min(1300, document.querySelector('main')!.clientWidth - 10);
  const plot = (id: string, opts: object, cols: (number | null)[][]) => {
    const el = document.getElementById(id);
    if (!el || !UPlot) return;
    new UPlot({ width: width(), height: 320, ...opts }, cols, el);
  };
  const series = (labels: string[], extra: object = {}) => [
    {},
    ...labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, ...extra })),
  ];

  // Throughput against latency: one point per point of the bench (medians over repeats), closed and open loops apart.
  const c = data.curve;
  plot(
    'curve',
    {
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ label: 'throughput, ok ops/s' }, { label: 'latency, ms' }],
      series: series(c.labels, { points: { show: true, size: 7 }, spanGaps: true }),
    },
    [c.x, ...c.series],
  );

  // Percentile spectrum: latency at 0, 50, 75, 87.5, ... percent, on a log scale of 1/(1 - p).
  const s = data.spectrum;
  plot(
    'spectrum',
    {
      scales: { x: { time: false, distr: 3, range: () => [1, Math.max(2, ...s.x)] }, y: { distr: 3 } },
      axes: [
        {
          label: 'percentile',
          // A tick at every other step: 0%, 50%, 75%, 87.5%, ... (x is 1 / (1 - p)).
          splits: () => s.x.filter((_, i) => i % 2 === 0),
          // uPlot hands null for a tick it leaves unlabelled (too close to the last).
          values: (_u: unknown, ticks: (number | null)[]) =>
            ticks.map((t) => (t === null || !(t >= 1) ? '' : String(Math.round((100 - 100 / t) * 1e3) / 1e3) + '%')),
        },
        { label: 'latency, ms' },
      ],
      series: series(s.labels, { points: { show: true, size: 4 } }),
    },
    [s.x, ...s.series],
  );

  // Over time: every second of every point, in the order they ran; gaps between points.
  // Faults shaded under the lines: red from start to end, lighter until the system served again.
  type U = {
    ctx: CanvasRenderingContext2D;
    bbox: { left: number; top: number; width: number; height: number };
    valToPos: (v: number, scale: string, canvas: boolean) => number;
  };
  const shade = (u: U) => {
    const band = (from: number, to: number, color: string) => {
      const x0 = Math.max(u.bbox.left, u.valToPos(from, 'x', true));
      const x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(to, 'x', true));
      if (!(x1 > x0)) return;
      u.ctx.fillStyle = color;
      u.ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
    };
    u.ctx.save();
    for (const f of data.faults) {
      if (f.served !== null && f.served > f.end) band(f.end, f.served, 'rgba(214,39,40,0.08)');
      band(f.start, f.end, 'rgba(214,39,40,0.18)');
    }
    u.ctx.restore();
  };
  const hooks = { drawClear: [shade] };
  const t = data.time;
  plot(
    'tput-time',
    {
      hooks,
      scales: { x: { time: false } },
      axes: [{ label: 'seconds since the bench started' }, { label: 'ok ops/s' }],
      series: series(['ok ops/s', 'fail+info /s']),
    },
    [t.x, t.ok, t.bad],
  );
  plot(
    'lat-time',
    {
      hooks,
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ label: 'seconds since the bench started' }, { label: 'latency, ms' }],
      series: series(['p50', 'p99', 'max']),
    },
    [t.x, t.p50, t.p99, t.max],
  );
  document.body.dataset.ready = 'true';
}
