// The report page's script. It runs in the browser, not in Node: renderReport
// inlines this function's source (Function.prototype.toString) and calls it
// with the page's data and uPlot. So it must stay self-contained: no imports,
// no references to anything outside its body.

import type { ReportData } from './report-data.js';

/** The subset of uPlot's API the page uses (the library itself is inlined beside this script). */
interface UPlotLike {
  ctx: CanvasRenderingContext2D;
  bbox: { left: number; top: number; width: number; height: number };
  valToPos(v: number, scale: string, canvasPixels?: boolean): number;
  setSize(size: { width: number; height: number }): void;
}
type UPlotCtor = new (opts: object, data: (number | null)[][], target: HTMLElement) => UPlotLike;

export function reportClient(data: ReportData, UPlot: UPlotCtor | undefined): void {
  const OK = '#4f9ee8';
  const FAIL = '#e0529c';
  const INFO = '#f5a623';
  const FAULT_COLORS = ['rgba(220,60,60,0.13)', 'rgba(60,60,220,0.12)', 'rgba(160,60,200,0.13)', 'rgba(20,150,120,0.13)', 'rgba(120,120,120,0.16)'];
  const PLOT_COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#17becf', '#bcbd22', '#7f7f7f', '#e377c2'];
  const ops = data.ops;
  const n = ops.s.length;
  const end = Math.max(data.end, 1e-6);

  const faultKinds: string[] = [];
  for (const f of data.faults) if (!faultKinds.includes(f.f)) faultKinds.push(f.f);
  const faultColor = (f: string) => FAULT_COLORS[faultKinds.indexOf(f) % FAULT_COLORS.length];

  const show = (v: unknown) => (v === null || v === undefined ? 'nil' : typeof v === 'string' ? v : JSON.stringify(v));
  const TYPES = ['ok', 'fail', 'info'];
  const fmtS = (t: number) => (t >= 100 ? t.toFixed(1) + ' s' : t >= 1 ? t.toFixed(3) + ' s' : (t * 1000).toFixed(3) + ' ms');

  // ---- the ops, per lane, in invocation order; where info bars stop ----
  const laneOps: number[][] = data.lanes.map(() => []);
  for (let i = 0; i < n; i++) laneOps[ops.lane[i]].push(i);
  for (const l of laneOps) l.sort((a, b) => ops.s[a] - ops.s[b]);
  const barEnd = new Float64Array(n);
  for (const l of laneOps) {
    for (let k = 0; k < l.length; k++) {
      const i = l[k];
      // Unknown outcome: the op may take effect any time later; its bar runs to
      // the end of the run, or to the next op of its lane (a fresh process).
      barEnd[i] = ops.type[i] === 2 ? (k + 1 < l.length ? ops.s[l[k + 1]] : end) : ops.e[i];
    }
  }
  const byEvent = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    byEvent.set(ops.invokeIndex[i], i);
    if (ops.completeIndex[i] >= 0) byEvent.set(ops.completeIndex[i], i);
  }

  const describe = (i: number) => {
    const lines = [
      `${data.fs[ops.f[i]]}${ops.key[i] !== null ? ` [key ${show(ops.key[i])}]` : ''}  ${TYPES[ops.type[i]]}`,
      `process ${ops.process[i]}, events ${ops.invokeIndex[i]}..${ops.completeIndex[i] >= 0 ? ops.completeIndex[i] : '?'}`,
      `input: ${show(ops.input[i])}`,
    ];
    if (ops.type[i] !== 2) lines.push(`output: ${show(ops.output[i])}`);
    if (ops.error[i] !== null) lines.push(`error: ${show(ops.error[i])}`);
    lines.push(
      `invoked at ${fmtS(ops.s[i])}` +
        (ops.e[i] >= 0 ? `, took ${((ops.e[i] - ops.s[i]) * 1000).toFixed(3)} ms` : ', outcome unknown (may take effect any time later)'),
    );
    return lines.join('\n');
  };

  // ---- the timeline ----
  const canvas = document.getElementById('timeline') as HTMLCanvasElement;
  const tip = document.getElementById('tip') as HTMLDivElement;
  const details = document.getElementById('op-details') as HTMLPreElement;
  const GUTTER = 84;
  const TOP = 30;
  const laneH = Math.max(5, Math.min(18, Math.floor(420 / Math.max(1, data.lanes.length))));
  let v0 = 0;
  let v1 = end;
  let selected = -1;
  let W = 0;
  const H = TOP + data.lanes.length * laneH + 6;
  const ctx = canvas.getContext('2d')!;

  const size = () => {
    const dpr = window.devicePixelRatio || 1;
    W = canvas.parentElement!.clientWidth;
    canvas.width = Math.floor(W * dpr);
    canvas.height = Math.floor(H * dpr);
    canvas.style.width = `${W}px`;
    canvas.style.height = `${H}px`;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  };
  const X = (t: number) => GUTTER + ((t - v0) / (v1 - v0)) * (W - GUTTER - 8);
  const T = (x: number) => v0 + ((x - GUTTER) / (W - GUTTER - 8)) * (v1 - v0);

  const niceStep = (span: number, target: number) => {
    const raw = span / target;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
    return 10 * pow;
  };

  const draw = () => {
    ctx.clearRect(0, 0, W, H);
    const bottom = TOP + data.lanes.length * laneH;
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, 0, W - GUTTER, H);
    ctx.clip();
    // Faults, shaded across every lane.
    for (const f of data.faults) {
      const a = Math.max(GUTTER, X(f.start));
      const b = Math.min(W, X(f.end));
      if (b < GUTTER || a > W) continue;
      ctx.fillStyle = faultColor(f.f);
      ctx.fillRect(a, TOP, Math.max(1, b - a), bottom - TOP);
      ctx.fillStyle = '#833';
      ctx.font = '10px sans-serif';
      ctx.fillText(f.f + (f.healed ? '' : ' (never healed)'), a + 2, TOP - 3);
    }
    ctx.strokeStyle = '#a33';
    for (const m of data.marks) {
      const x = X(m.at);
      ctx.beginPath();
      ctx.moveTo(x, TOP);
      ctx.lineTo(x, bottom);
      ctx.stroke();
    }
    // Bars, batched by colour: info (faded) first, then fail, then ok.
    const pad = laneH >= 8 ? 1 : 0;
    for (const type of [2, 1, 0]) {
      ctx.fillStyle = type === 0 ? OK : type === 1 ? FAIL : INFO;
      ctx.globalAlpha = type === 2 ? 0.3 : 1;
      for (let i = 0; i < n; i++) {
        if (ops.type[i] !== type) continue;
        const a = X(ops.s[i]);
        const b = X(barEnd[i]);
        if (b < GUTTER || a > W) continue;
        ctx.fillRect(a, TOP + ops.lane[i] * laneH + pad, Math.max(1, b - a), laneH - 2 * pad);
      }
      if (type === 2) {
        // The info op's own invocation, solid, so that it stands out from its tail.
        ctx.globalAlpha = 1;
        for (let i = 0; i < n; i++) {
          if (ops.type[i] !== 2) continue;
          const a = X(ops.s[i]);
          if (a < GUTTER - 3 || a > W) continue;
          ctx.fillRect(a, TOP + ops.lane[i] * laneH + pad, 3, laneH - 2 * pad);
        }
      }
    }
    ctx.globalAlpha = 1;
    // The faults again, over the bars: dense runs cover every lane.
    for (const f of data.faults) {
      const a = Math.max(GUTTER, X(f.start));
      const b = Math.min(W, X(f.end));
      if (b < GUTTER || a > W) continue;
      ctx.fillStyle = faultColor(f.f);
      ctx.fillRect(a, TOP, Math.max(1, b - a), bottom - TOP);
    }
    if (selected >= 0) {
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 2;
      const a = X(ops.s[selected]);
      ctx.strokeRect(a - 1, TOP + ops.lane[selected] * laneH, Math.max(3, X(barEnd[selected]) - a + 2), laneH);
      ctx.lineWidth = 1;
    }
    ctx.restore();
    // Time axis.
    ctx.fillStyle = '#333';
    ctx.strokeStyle = '#bbb';
    ctx.font = '10px sans-serif';
    const step = niceStep(v1 - v0, Math.max(2, Math.floor((W - GUTTER) / 90)));
    for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      const x = X(t);
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, 14);
      ctx.stroke();
      const label = step >= 1 ? `${+t.toFixed(0)}s` : step >= 0.001 ? `${+(t * 1000).toFixed(3)}ms` : `${+(t * 1e6).toFixed(1)}µs`;
      ctx.fillText(label, x + 2, 10);
    }
    // Lane labels.
    const every = Math.ceil(11 / laneH);
    for (let l = 0; l < data.lanes.length; l += every) ctx.fillText(data.lanes[l], 4, TOP + l * laneH + Math.min(laneH, 11) - 1);
  };

  const clampView = () => {
    const span = Math.min(end, Math.max(v1 - v0, end / 1e6));
    if (v0 < 0) v0 = 0;
    v1 = v0 + span;
    if (v1 > end) {
      v1 = end;
      v0 = end - span;
    }
  };
  const zoom = (factor: number, at: number) => {
    v0 = at - (at - v0) * factor;
    v1 = at + (v1 - at) * factor;
    clampView();
    draw();
  };

  const opAt = (x: number, y: number): number => {
    const lane = Math.floor((y - TOP) / laneH);
    if (lane < 0 || lane >= data.lanes.length || x < GUTTER) return -1;
    const t = T(x);
    const tol = (4 * (v1 - v0)) / (W - GUTTER);
    const l = laneOps[lane];
    // Last op invoked at or before t (+tolerance), then walk back to one that covers t.
    let lo = 0;
    let hi = l.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ops.s[l[mid]] <= t + tol) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let k = found; k >= 0 && k > found - 50; k--) {
      const i = l[k];
      if (barEnd[i] + tol >= t) return i;
    }
    return -1;
  };

  let dragging: { x: number; v0: number; v1: number } | null = null;
  canvas.addEventListener(
    'wheel',
    (ev) => {
      ev.preventDefault();
      const r = canvas.getBoundingClientRect();
      zoom(ev.deltaY < 0 ? 1 / 1.25 : 1.25, T(ev.clientX - r.left));
    },
    { passive: false },
  );
  canvas.addEventListener('mousedown', (ev) => {
    dragging = { x: ev.clientX, v0, v1 };
  });
  window.addEventListener('mouseup', (ev) => {
    if (dragging && Math.abs(ev.clientX - dragging.x) < 3) {
      const r = canvas.getBoundingClientRect();
      const i = opAt(ev.clientX - r.left, ev.clientY - r.top);
      if (i >= 0) select(i, false);
    }
    dragging = null;
  });
  canvas.addEventListener('mousemove', (ev) => {
    const r = canvas.getBoundingClientRect();
    if (dragging) {
      const dt = ((ev.clientX - dragging.x) / (W - GUTTER)) * (dragging.v1 - dragging.v0);
      v0 = dragging.v0 - dt;
      v1 = dragging.v1 - dt;
      clampView();
      draw();
      return;
    }
    const i = opAt(ev.clientX - r.left, ev.clientY - r.top);
    if (i < 0) {
      tip.style.display = 'none';
      return;
    }
    tip.textContent = describe(i);
    tip.style.display = 'block';
    tip.style.left = `${Math.min(ev.clientX - r.left + 14, W - 320)}px`;
    tip.style.top = `${ev.clientY - r.top + 14}px`;
  });
  canvas.addEventListener('mouseleave', () => {
    tip.style.display = 'none';
  });
  canvas.addEventListener('dblclick', () => {
    v0 = 0;
    v1 = end;
    draw();
  });
  const button = (id: string, fn: () => void) => document.getElementById(id)?.addEventListener('click', fn);
  button('zoom-in', () => zoom(1 / 2, (v0 + v1) / 2));
  button('zoom-out', () => zoom(2, (v0 + v1) / 2));
  button('zoom-reset', () => {
    v0 = 0;
    v1 = end;
    draw();
  });

  function select(i: number, focus: boolean) {
    selected = i;
    if (focus) {
      const span = Math.max((barEnd[i] - ops.s[i]) * 12, end / 200);
      v0 = ops.s[i] - span / 3;
      v1 = v0 + span;
      clampView();
    }
    details.textContent = describe(i);
    draw();
  }

  // Links to events (anomalies, counterexample ops): show the op on the timeline.
  document.addEventListener('click', (ev) => {
    const a = (ev.target as HTMLElement).closest('a[data-event]') as HTMLAnchorElement | null;
    if (!a) return;
    ev.preventDefault();
    const e = Number(a.dataset.event);
    const i = byEvent.get(e);
    if (i !== undefined) select(i, true);
    else {
      const f = data.faults.find((x) => x.startIndex === e || x.endIndex === e);
      if (f) {
        v0 = f.start - (f.end - f.start) * 0.2;
        v1 = f.end + (f.end - f.start) * 0.2;
        clampView();
        selected = -1;
        details.textContent = `nemesis ${f.f} from ${fmtS(f.start)} to ${fmtS(f.end)}: ${show(f.value)}`;
        draw();
      } else details.textContent = `event ${e} is not an op of this history`;
    }
    document.getElementById('timeline-section')!.scrollIntoView({ behavior: 'auto', block: 'start' });
  });

  size();
  draw();

  // ---- latency and throughput plots (uPlot) ----
  const plots: { plot: UPlotLike; height: number }[] = [];
  const shadeFaults = (u: UPlotLike) => {
    const { left, top, width, height } = u.bbox;
    u.ctx.save();
    for (const f of data.faults) {
      const a = Math.max(left, u.valToPos(f.start, 'x', true));
      const b = Math.min(left + width, u.valToPos(f.end, 'x', true));
      if (b <= a) continue;
      u.ctx.fillStyle = faultColor(f.f);
      u.ctx.fillRect(a, top, b - a, height);
    }
    u.ctx.restore();
  };
  const plotWidth = () => Math.max(300, (document.getElementById('latency')!.clientWidth || 800) - 10);
  if (UPlot && data.latency.x.length > 0) {
    const nf = data.fs.length;
    const series: object[] = [{ label: 'time (s)' }];
    data.latency.labels.forEach((label, s) => {
      const color = s < nf ? PLOT_COLORS[s % PLOT_COLORS.length] : ['#111', '#d62728', '#ff7f0e'][s - nf];
      series.push(
        s < nf
          ? { label, stroke: color, paths: () => null, points: { show: true, space: 0, size: 3, width: 0, fill: color + '99', stroke: color + '99' } }
          : { label, stroke: color, width: 2, spanGaps: true, points: { show: false } },
      );
    });
    plots.push({
      height: 320,
      plot: new UPlot(
        {
          width: plotWidth(),
          height: 320,
          scales: { x: { time: false }, y: { distr: 3, log: 10 } },
          axes: [{ label: 'time since start (s)' }, { label: 'latency (ms), ok ops', size: 60 }],
          series,
          hooks: { drawClear: [shadeFaults] },
        },
        [data.latency.x, ...data.latency.series],
        document.getElementById('latency')!,
      ),
    });
  }
  if (UPlot && data.throughput.x.length > 0) {
    const nf = data.fs.length;
    const series: object[] = [{ label: 'time (s)' }];
    data.throughput.labels.forEach((label, s) => {
      const color = s < nf ? PLOT_COLORS[s % PLOT_COLORS.length] : s === nf ? FAIL : INFO;
      series.push({ label, stroke: color, width: 2, points: { show: false } });
    });
    plots.push({
      height: 260,
      plot: new UPlot(
        {
          width: plotWidth(),
          height: 260,
          scales: { x: { time: false } },
          axes: [{ label: 'time since start (s)' }, { label: 'completions / s', size: 60 }],
          series,
          hooks: { drawClear: [shadeFaults] },
        },
        [data.throughput.x, ...data.throughput.series],
        document.getElementById('throughput')!,
      ),
    });
  }

  window.addEventListener('resize', () => {
    size();
    draw();
    for (const p of plots) p.plot.setSize({ width: plotWidth(), height: p.height });
  });
  // Counterexample drawings wider than the page: show their right end, where the stuck op is.
  document.querySelectorAll<HTMLElement>('.ce-scroll').forEach((el) => {
    el.scrollLeft = el.scrollWidth;
  });
  document.body.dataset.ready = 'true';
}
