// The results browser's pages: the runs index (one row per run, filterable by
// text and verdict in the page itself) and the listing of a run's folder.
// Both are complete on the server: the rows are HTML, and the inline script
// only hides and shows them, so the page needs no network and no assets.

import { escapeHtml } from './report.js';
import type { CampaignLine, CampaignSummary } from './serve-campaigns.js';
import { RUN_STATUSES, type RunSummary } from './serve-runs.js';

export interface DirEntry {
  name: string;
  dir: boolean;
  size: number;
  /** ISO time. */
  modified: string;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1400px;margin:0 auto;padding:16px 24px 60px}
h1{font-size:22px;margin:4px 0 10px}
a{color:#1a5fb4}
.verdict{display:inline-block;padding:1px 9px;border-radius:10px;font-weight:600;font-size:13px;color:#fff;white-space:nowrap}
.verdict.valid{background:#2e9e48}.verdict.invalid{background:#d33a2c}.verdict.unknown{background:#d98f00}
.verdict.running{background:#2a6fb5}.verdict.no-results{background:#8a8a8a}
table{border-collapse:collapse;margin:8px 0;width:100%}td,th{border-bottom:1px solid #e6e6e6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4;font-weight:600}tbody tr:hover{background:#f8fafd}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.time{white-space:nowrap;font-variant-numeric:tabular-nums}
.muted{color:#777;font-size:12px}.warn{color:#b3261e;font-size:12px}
.filters{display:flex;gap:10px;align-items:center;flex-wrap:wrap;margin:6px 0}
.filters input{font-size:14px;padding:4px 8px;min-width:320px}.filters select{font-size:14px;padding:3px 6px}
.fault{display:inline-block;background:#f1ecf7;border-radius:3px;padding:0 5px;margin:1px 3px 1px 0;font-size:12px}
.links a{margin-right:8px;white-space:nowrap}
.crumbs{font-size:16px;margin:4px 0 10px}
.night{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:2px;vertical-align:middle}
`;

const statusClass = (s: string) => s.replace(/[^a-z]+/g, '-');

function badge(r: RunSummary): string {
  const checkers = Object.entries(r.checkers)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  const title = checkers ? ` title="${escapeHtml(checkers)}"` : '';
  return `<span class="verdict ${statusClass(r.verdict)}"${title}>${escapeHtml(r.verdict)}</span>`;
}

/** 2026-11-23 17:17:28 (UTC): sortable, and the same for every viewer. */
export function showTime(iso: string | null): string {
  return iso === null ? '?' : iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

export function showDuration(s: number | null): string {
  if (s === null) return '?';
  if (s < 60) return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

/** What the text filter matches a row against. */
export function searchText(r: RunSummary): string {
  return [
    r.name,
    r.path,
    r.verdict,
    r.workload,
    ...r.faults,
    r.seed,
    r.provider,
    ...r.bugs,
    showTime(r.startedAt),
    ...Object.keys(r.checkers),
    r.interrupted ? 'interrupted' : null,
    r.failure ? 'failed' : null,
  ]
    .filter((x) => x !== null && x !== undefined)
    .join(' ')
    .toLowerCase();
}

function row(r: RunSummary): string {
  const main = r.report ?? r.files;
  const extra = [r.provider, r.concurrency !== null ? `concurrency ${r.concurrency}` : null, r.bugs.length ? `bugs: ${r.bugs.join(', ')}` : null]
    .filter(Boolean)
    .join(' · ');
  const faults = r.faults.length ? r.faults.map((f) => `<span class="fault">${escapeHtml(f)}</span>`).join('') : '<span class="muted">none</span>';
  return (
    `<tr class="run" data-verdict="${escapeHtml(r.verdict)}" data-text="${escapeHtml(searchText(r))}">` +
    `<td><a class="run-link" href="${escapeHtml(main)}">${escapeHtml(r.name)}</a><div class="muted">${escapeHtml(r.folder)}${extra ? ` · ${escapeHtml(extra)}` : ''}</div>` +
    [r.interrupted ? 'interrupted (Ctrl-C): the history ends early' : null, r.failure ? `failed: ${r.failure}` : null, r.problem]
      .filter((w): w is string => w !== null)
      .map((w) => `<div class="warn">${escapeHtml(w)}</div>`)
      .join('') +
    `</td><td class="time" title="${escapeHtml(r.startedAt ?? '')}">${escapeHtml(showTime(r.startedAt))}</td>` +
    `<td>${badge(r)}</td><td>${escapeHtml(r.workload ?? '?')}</td><td>${faults}</td>` +
    `<td class="num">${escapeHtml(showDuration(r.durationS))}</td><td class="num">${escapeHtml(r.seed === null ? '?' : String(r.seed))}</td>` +
    `<td class="links">${r.report ? `<a class="report" href="${escapeHtml(r.report)}">report</a>` : '<span class="muted">no report</span> '}<a class="files" href="${escapeHtml(r.files)}">files</a></td></tr>`
  );
}

/** A campaign's exit code as a colour: as expected, not as expected, unknowns or not-run, the harness failed. */
const EXIT_COLOURS: Record<string, string> = { '0': '#2e9e48', '1': '#d33a2c', '2': '#d98f00', '255': '#7b1fa2' };

function campaignTitle(c: CampaignSummary): string {
  const counts = Object.entries(c.counts)
    .filter(([, n]) => n > 0)
    .map(([o, n]) => `${n} ${o}`)
    .join(', ');
  return `${showTime(c.startedAt)}: ${counts || 'no cells'}${c.shards.length ? ` (shards ${c.shards.join(', ')})` : ''}, exit ${c.exitCode ?? '?'}`;
}

/** One row per campaign name: its newest campaign, and the trend of its whole campaigns (oldest left). */
function renderCampaigns(lines: CampaignLine[]): string {
  if (lines.length === 0) return '';
  const rows = lines.map((l) => {
    const latest = l.campaigns[0];
    const trend = l.campaigns
      .filter((c) => c.whole)
      .slice(0, 20)
      .reverse()
      .map(
        (c) =>
          `<a class="night" href="/store/${escapeHtml(c.path)}/campaign.html" style="background:${EXIT_COLOURS[String(c.exitCode)] ?? '#9e9e9e'}" title="${escapeHtml(campaignTitle(c))}"></a>`,
      )
      .join('');
    return `<tr class="campaign"><td><a href="/store/${escapeHtml(latest.path)}/campaign.html">${escapeHtml(l.name)}</a><div class="muted">${l.campaigns.length} folder${l.campaigns.length === 1 ? '' : 's'}</div>${latest.problem ? `<div class="warn">${escapeHtml(latest.problem)}</div>` : ''}</td><td>${escapeHtml(campaignTitle(latest))}</td><td>${trend || '<span class="muted">no whole campaign yet</span>'}</td></tr>`;
  });
  return `<h2>Campaigns <span class="muted"><a href="/api/campaigns">JSON</a></span></h2>
<table id="campaigns"><thead><tr><th>campaign</th><th>newest</th><th>trend (exit codes, oldest left)</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

export function renderRunsPage(runs: RunSummary[], campaigns: CampaignLine[] = []): string {
  const count = (s: string) => runs.filter((r) => r.verdict === s).length;
  const options = RUN_STATUSES.map((s) => `<option value="${escapeHtml(s)}">${escapeHtml(s)} (${count(s)})</option>`).join('');
  const body = runs.length
    ? `<div class="filters"><input id="q" type="search" placeholder="filter: name, workload, fault, seed, bug…" autofocus>
<select id="verdict"><option value="">every verdict (${runs.length})</option>${options}</select>
<span id="shown" class="muted">${runs.length} of ${runs.length} runs</span></div>
<table id="runs"><thead><tr><th>run</th><th>started (UTC)</th><th>verdict</th><th>workload</th><th>faults</th><th>duration</th><th>seed</th><th></th></tr></thead>
<tbody>${runs.map(row).join('\n')}</tbody></table>
<p id="none" class="muted" hidden>No run matches the filter.</p>`
    : `<p id="empty">No runs in this store yet. Run <code>undertow test</code>, then reload.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>undertow: runs</title>
<style>${CSS}</style>
</head><body><main>
<h1>Runs <span class="muted">${runs.length} in the store, newest first · <a href="/store/">all files</a> · <a href="/api/runs">JSON</a></span></h1>
${body}
${renderCampaigns(campaigns)}
</main>
<script>(${runsClient.toString()})();</script>
</body></html>
`;
}

/**
 * The index's script, inlined by its source (so: self-contained, no imports).
 * Hides the rows that do not match; keeps the filter in the URL's fragment so
 * a reload or a shared link shows the same selection.
 */
export function runsClient(): void {
  const q = document.getElementById('q') as HTMLInputElement | null;
  const verdict = document.getElementById('verdict') as HTMLSelectElement | null;
  const shown = document.getElementById('shown');
  const none = document.getElementById('none');
  const rows = Array.from(document.querySelectorAll<HTMLTableRowElement>('tr.run'));
  if (q && verdict) {
    const state = new URLSearchParams(location.hash.slice(1));
    q.value = state.get('q') ?? '';
    verdict.value = state.get('verdict') ?? '';
    const apply = () => {
      const words = q.value
        .toLowerCase()
        .split(/\s+/)
        .filter((w) => w !== '');
      let n = 0;
      for (const tr of rows) {
        const text = tr.dataset.text ?? '';
        const show = (verdict.value === '' || tr.dataset.verdict === verdict.value) && words.every((w) => text.includes(w));
        tr.hidden = !show;
        if (show) n++;
      }
      if (shown) shown.textContent = `${n} of ${rows.length} runs`;
      if (none) none.hidden = n > 0;
      const next = new URLSearchParams();
      if (q.value) next.set('q', q.value);
      if (verdict.value) next.set('verdict', verdict.value);
      const hash = next.toString();
      history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
    };
    q.addEventListener('input', apply);
    verdict.addEventListener('change', apply);
    apply();
  }
  document.body.dataset.ready = 'true';
}

const showSize = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

/** A store folder's listing; `segments` is its path in the store (decoded). */
export function renderDirectoryPage(segments: string[], entries: DirEntry[]): string {
  const href = (upTo: number) => `/store/${segments.slice(0, upTo).map(encodeURIComponent).join('/')}${upTo > 0 ? '/' : ''}`;
  const crumbs = [
    `<a href="/">runs</a>`,
    `<a href="/store/">store</a>`,
    ...segments.map((s, i) => `<a href="${escapeHtml(href(i + 1))}">${escapeHtml(s)}</a>`),
  ].join(' / ');
  const rows = entries
    .map((e) => {
      const name = e.dir ? `${e.name}/` : e.name;
      const link = encodeURIComponent(e.name) + (e.dir ? '/' : '');
      return `<tr><td><a href="${escapeHtml(link)}">${escapeHtml(name)}</a></td><td class="num">${e.dir ? '' : escapeHtml(showSize(e.size))}</td><td class="time">${escapeHtml(showTime(e.modified))}</td></tr>`;
    })
    .join('\n');
  const up = segments.length > 0 ? `<tr><td><a href="../">../</a></td><td></td><td></td></tr>\n` : '';
  const title = segments.length ? segments.join('/') : 'store';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>undertow: ${escapeHtml(title)}</title>
<style>${CSS}</style>
</head><body><main>
<div class="crumbs">${crumbs} /</div>
<table id="files" style="width:auto"><thead><tr><th>name</th><th>size</th><th>modified (UTC)</th></tr></thead>
<tbody>${up}${rows}</tbody></table>
${entries.length === 0 ? '<p class="muted">Empty folder.</p>' : ''}
</main><script>document.body.dataset.ready = 'true';</script></body></html>
`;
}
