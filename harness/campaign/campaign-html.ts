// campaign.html: one self-contained page (no script, no network, as
// report.html opens from disk): the cells as a grid coloured by outcome, each
// linking to its run's report.html; the catch rate per seeded bug; and the
// trend over the earlier campaigns of the same name, with cells whose outcome
// flipped from night to night marked flaky. Sparklines are inline SVG: a few
// dozen points need no chart library.

import { escapeHtml } from '../../results/report.js';
import { catchRates, headline, failureMessage } from './report.js';
import type { CampaignResult, CellResult, Outcome } from './run.js';

const COLOURS: Record<Outcome, string> = { pass: '#2e9e48', fail: '#d33a2c', unknown: '#d98f00', crashed: '#7b1fa2', 'not-run': '#9e9e9e' };

/** The campaign folder is store/campaigns/NAME/TIMESTAMP, so a run NAME/TIMESTAMP is three folders up. */
const reportHref = (c: CellResult) => (c.run ? `../../../${c.run.split('/').map(encodeURIComponent).join('/')}/report.html` : null);

/** Cells whose outcome changed between consecutive campaigns in which they ran. */
export function flakyCells(nights: CampaignResult[]): Set<string> {
  const last = new Map<string, Outcome>();
  const flaky = new Set<string>();
  for (const night of nights) {
    for (const c of night.cells) {
      if (c.outcome === 'not-run') continue;
      const before = last.get(c.id);
      if (before !== undefined && before !== c.outcome) flaky.add(c.id);
      last.set(c.id, c.outcome);
    }
  }
  return flaky;
}

function sparkline(values: (number | null)[], title: string): string {
  const pts = values.map((v, i) => [i, v] as const).filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]));
  if (pts.length === 0) return '<span class="muted">-</span>';
  const w = 120;
  const h = 24;
  const max = Math.max(...pts.map((p) => p[1]));
  const min = Math.min(...pts.map((p) => p[1]));
  const x = (i: number) => (values.length <= 1 ? w / 2 : (i / (values.length - 1)) * (w - 4) + 2);
  const y = (v: number) => (max === min ? h / 2 : h - 2 - ((v - min) / (max - min)) * (h - 4));
  const path = pts.map(([i, v], k) => `${k === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const lastPt = pts[pts.length - 1];
  return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><title>${escapeHtml(`${title}: ${values.map((v) => v ?? '-').join(', ')}`)}</title><path d="${path}" fill="none" stroke="#1a5fb4" stroke-width="1.5"/><circle cx="${x(lastPt[0]).toFixed(1)}" cy="${y(lastPt[1]).toFixed(1)}" r="2" fill="#1a5fb4"/></svg> ${lastPt[1]}`;
}

export function renderCampaignHtml(r: CampaignResult, earlier: CampaignResult[]): string {
  const nights = [...earlier, r];
  const flaky = flakyCells(nights);
  const tile = (c: CellResult) => {
    const href = reportHref(c);
    const title = [`#${c.index + 1} ${c.id}`, `expected ${c.expected}, verdict ${c.verdict ?? '-'}`, failureMessage(c), c.note ?? '', ...c.counterexample]
      .filter(Boolean)
      .join('\n');
    const inner = `<b>${c.outcome}</b>${flaky.has(c.id) ? ' <span class="flaky">flaky</span>' : ''}<br><span class="id">${escapeHtml(c.id)}</span><br><span class="small">expected ${c.expected} · ${c.verdict ?? '-'} · ${c.durationS ?? '-'} s</span>`;
    return href
      ? `<a class="tile" style="background:${COLOURS[c.outcome]}" href="${escapeHtml(href)}" title="${escapeHtml(title)}">${inner}</a>`
      : `<div class="tile" style="background:${COLOURS[c.outcome]}" title="${escapeHtml(title)}">${inner}</div>`;
  };
  const rates = catchRates(r.cells);
  const bugs = [...new Set(nights.flatMap((n) => catchRates(n.cells).map((x) => x.bug)))];
  const nightHead = nights
    .map((n, i) => `<th title="${escapeHtml(n.startedAt)}">${i === nights.length - 1 ? 'now' : escapeHtml(n.startedAt.slice(0, 10))}</th>`)
    .join('');
  const ids = [...new Set(nights.flatMap((n) => n.cells.map((c) => c.id)))];
  const byNight = nights.map((n) => new Map(n.cells.map((c) => [c.id, c])));
  const trendRows = ids
    .map((id) => {
      const cells = byNight.map((m) => m.get(id));
      const dots = cells
        .map((c) =>
          c
            ? `<td><span class="dot" style="background:${COLOURS[c.outcome]}" title="${escapeHtml(`${c.outcome}: ${c.verdict ?? '-'}`)}"></span></td>`
            : '<td></td>',
        )
        .join('');
      return `<tr><td>${escapeHtml(id)}${flaky.has(id) ? ' <span class="flaky">flaky</span>' : ''}</td>${dots}<td>${sparkline(
        cells.map((c) => c?.throughput ?? null),
        'ok ops/s',
      )}</td><td>${sparkline(
        cells.map((c) => c?.p99 ?? null),
        'p99 ms',
      )}</td></tr>`;
    })
    .join('\n');
  const rateRows = bugs
    .map((bug) => {
      const cols = nights
        .map((n) => {
          const x = catchRates(n.cells).find((y) => y.bug === bug);
          return `<td>${x && x.ran > 0 ? `${x.caught}/${x.ran}` : '-'}</td>`;
        })
        .join('');
      return `<tr><td>${escapeHtml(bug)}</td>${cols}</tr>`;
    })
    .join('\n');
  const durations = r.cells
    .filter((c) => c.durationS !== null)
    .map((c) => `<tr><td>${c.index + 1}</td><td>${escapeHtml(c.id)}</td><td>${c.durationS}</td><td>${c.throughput ?? '-'}</td><td>${c.p99 ?? '-'}</td></tr>`)
    .join('\n');
  const total = r.cells.reduce((s, c) => s + (c.durationS ?? 0), 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`campaign ${r.campaign}`)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 24px 40px;color:#222}
h1{font-size:20px;margin:18px 0 4px}h2{font-size:16px;margin:22px 0 8px}
.muted{color:#777;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:6px}
.tile{display:block;color:#fff;text-decoration:none;padding:6px 8px;border-radius:4px;font-size:12px;overflow:hidden}
.tile .id{font-family:ui-monospace,monospace;font-size:11px;word-break:break-all}.tile .small{opacity:.9;font-size:11px}
.flaky{background:#fff;color:#b3261e;border-radius:3px;padding:0 4px;font-size:11px;font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:middle}
.dot{display:inline-block;width:12px;height:12px;border-radius:2px}
.legend span{display:inline-block;padding:1px 8px;margin-right:6px;border-radius:3px;color:#fff;font-size:12px}
</style></head><body>
<h1>Campaign ${escapeHtml(headline(r))}</h1>
<p class="muted">${r.cells.length} of ${r.totalCells} cells${r.shards ? `, shards ${r.shards.map((s) => `${s.index}/${s.count}`).join(', ')}` : ''} · budget ${r.budgetS} s · ${total.toFixed(0)} s of runs · ${escapeHtml(r.startedAt)} to ${escapeHtml(r.endedAt)} · ${escapeHtml(r.file)}${r.interrupted ? ' · interrupted' : ''}</p>
<p class="legend">${(Object.keys(COLOURS) as Outcome[]).map((o) => `<span style="background:${COLOURS[o]}">${o} ${r.counts[o]}</span>`).join('')}</p>
<h2>Cells</h2>
<div class="grid">
${r.cells.map(tile).join('\n')}
</div>
<h2>Catch rate per seeded bug</h2>
${rates.length === 0 ? '<p class="muted">No cell of this campaign must catch a seeded bug.</p>' : `<table><tr><th>bug</th><th>caught</th><th>of cells with a verdict</th><th>rate</th></tr>${rates.map((x) => `<tr><td>${escapeHtml(x.bug)}</td><td>${x.caught}</td><td>${x.ran}</td><td>${x.ran ? `${Math.round((100 * x.caught) / x.ran)}%` : '-'}</td></tr>`).join('')}</table>`}
<h2>Durations</h2>
<table><tr><th>#</th><th>cell</th><th>seconds</th><th>ok ops/s</th><th>p99 ms</th></tr>${durations}</table>
<h2>Trend over ${nights.length} campaign${nights.length === 1 ? '' : 's'} named ${escapeHtml(r.campaign)}</h2>
${bugs.length > 0 ? `<h3>Catch rates</h3><table><tr><th>bug</th>${nightHead}</tr>${rateRows}</table>` : ''}
<h3>Outcomes, throughput and p99 per cell</h3>
<table><tr><th>cell</th>${nightHead}<th>ok ops/s</th><th>p99 ms</th></tr>
${trendRows}
</table>
</body></html>
`;
}
