// A campaign's folder, store/campaigns/NAME/TIMESTAMP/: campaign.json (every
// cell and its outcome), junit.xml (for CI systems' test tabs), summary.md
// (for a CI step summary) and campaign.html (campaign-html.ts). Merging the
// folders of a campaign's shards gives the same four files as one unsharded
// run would have.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../history/input-error.js';
import { timestamp, writeJson } from '../../results/store.js';
import { renderCampaignHtml } from './campaign-html.js';
import { finish, type CampaignResult, type CellResult, type Outcome } from './run.js';

export const campaignsDir = (store: string, name: string) => join(store, 'campaigns', name);

/** Writes the four files into a new store/campaigns/NAME/TIMESTAMP/ and returns that folder. */
export function writeCampaign(store: string, r: CampaignResult, at: Date = new Date()): string {
  const dir = join(campaignsDir(store, r.campaign), timestamp(at));
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'campaign.json'), r);
  writeFileSync(join(dir, 'junit.xml'), junitXml(r));
  writeFileSync(join(dir, 'summary.md'), summaryMd(r));
  writeFileSync(join(dir, 'campaign.html'), renderCampaignHtml(r, earlierCampaigns(store, r.campaign, dir)));
  return dir;
}

export function readCampaign(dir: string): CampaignResult {
  const file = join(dir, 'campaign.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new InputError(`no campaign.json in ${dir}`, {}, 'give folders written by undertow campaign, such as store/campaigns/NAME/TIMESTAMP');
  }
  try {
    const r = JSON.parse(text) as CampaignResult;
    if (!Array.isArray(r.cells) || typeof r.campaign !== 'string') throw new Error('no cells or campaign name');
    return r;
  } catch (e) {
    throw new InputError(`${file} is not a campaign result: ${(e as Error).message}`, { file });
  }
}

/** A result that holds every cell of its campaign: unsharded, or merged from all its shards. */
export function isWhole(r: CampaignResult): boolean {
  if (!r.shards || r.shards.length === 0) return true;
  const n = r.shards[0].count;
  return new Set(r.shards.filter((s) => s.count === n).map((s) => s.index)).size === n;
}

/** The earlier whole campaigns of this name in the store, oldest first (at most `keep`): the trend. */
export function earlierCampaigns(store: string, name: string, exceptDir?: string, keep = 20): CampaignResult[] {
  const root = campaignsDir(store, name);
  if (!existsSync(root)) return [];
  const out: CampaignResult[] = [];
  for (const d of readdirSync(root).sort()) {
    const dir = join(root, d);
    if (dir === exceptDir || !existsSync(join(dir, 'campaign.json'))) continue;
    try {
      const r = readCampaign(dir);
      if (isWhole(r)) out.push(r);
    } catch {
      // A damaged or foreign folder is left out of the trend, not fatal to tonight's campaign.
    }
  }
  return out.slice(-keep);
}

/** Joins shard results of one campaign; two shards holding the same cell, or of other campaigns, are refused. */
export function mergeCampaigns(parts: { dir: string; result: CampaignResult }[]): CampaignResult {
  if (parts.length === 0) throw new InputError('campaign merge needs at least one folder', {}, 'give the shard folders: undertow campaign merge DIR...');
  const first = parts[0].result;
  const cells = new Map<number, CellResult>();
  const shards: CampaignResult['shards'] = [];
  for (const { dir, result } of parts) {
    if (result.campaign !== first.campaign || result.totalCells !== first.totalCells)
      throw new InputError(
        `${dir} is campaign ${result.campaign} of ${result.totalCells} cells, ${parts[0].dir} is ${first.campaign} of ${first.totalCells}`,
        {},
        'merge the shards of one campaign run from the same file',
      );
    for (const c of result.cells) {
      if (cells.has(c.index)) throw new InputError(`cell ${c.index + 1} (${c.id}) is in two of the folders (again in ${dir})`, {}, 'give each shard once');
      cells.set(c.index, c);
    }
    for (const s of result.shards ?? []) shards.push(s);
  }
  const merged = finish({
    campaign: first.campaign,
    file: first.file,
    startedAt: parts.map((p) => p.result.startedAt).sort()[0],
    endedAt: parts
      .map((p) => p.result.endedAt)
      .sort()
      .at(-1) as string,
    budgetS: first.budgetS,
    shards: shards.length > 0 && parts.every((p) => p.result.shards) ? shards.sort((a, b) => a.index - b.index) : null,
    totalCells: first.totalCells,
    cells: [...cells.values()],
    interrupted: parts.some((p) => p.result.interrupted),
  });
  // A shard that is missing leaves cells nobody ran: not a clean night.
  if (merged.cells.length < merged.totalCells && merged.exitCode === 0) merged.exitCode = 2;
  return merged;
}

// ---- junit.xml ----

const xml = (s: string) =>
  s
    .replace(/[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/** Why a cell is a failure, in one line: the JUnit failure's message. */
export function failureMessage(c: CellResult): string {
  switch (c.outcome) {
    case 'fail':
      return c.expected === 'invalid'
        ? `missed the bug: expected invalid, got ${c.verdict}`
        : `expected valid, got ${c.verdict}${c.counterexample[0] ? `: ${c.counterexample[0]}` : ''}`;
    case 'unknown':
      return `expected ${c.expected}, got ${c.verdict ?? 'no verdict'}${c.interrupted ? ' (interrupted)' : ''}`;
    case 'crashed':
      return `the harness failed: ${c.failure}`;
    default:
      return '';
  }
}

/** One testsuite, one testcase per cell: failures for fail, unknown and crashed cells, skipped for cells not run. */
export function junitXml(r: CampaignResult): string {
  const failures = r.cells.filter((c) => c.outcome === 'fail' || c.outcome === 'unknown' || c.outcome === 'crashed').length;
  const skipped = r.counts['not-run'];
  const time = r.cells.reduce((s, c) => s + (c.durationS ?? 0), 0).toFixed(1);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    // No `skipped` on the root: Jenkins' schema has none there (the suite carries it).
    `<testsuites name="${xml(`undertow campaign ${r.campaign}`)}" tests="${r.cells.length}" failures="${failures}" errors="0" time="${time}">`,
    `  <testsuite name="${xml(r.campaign)}" tests="${r.cells.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time}" timestamp="${xml(r.startedAt.replace(/Z$/, ''))}">`,
  ];
  for (const c of r.cells) {
    const open = `    <testcase classname="${xml(`undertow.${r.campaign}`)}" name="${xml(`${c.index + 1}: ${c.id}`)}" time="${(c.durationS ?? 0).toFixed(1)}"`;
    if (c.outcome === 'pass') {
      out.push(`${open}/>`);
    } else if (c.outcome === 'not-run') {
      out.push(`${open}>`, `      <skipped message="${xml(c.note ?? 'not run')}"/>`, '    </testcase>');
    } else {
      const body = [
        `expected: ${c.expected}`,
        `verdict: ${c.verdict ?? 'none'}`,
        ...(c.failure ? [`harness failure: ${c.failure}`] : []),
        ...(c.counterexample.length > 0 ? ['counterexample:', ...c.counterexample.map((l) => `  ${l}`)] : []),
        `run folder: ${c.run ?? 'none'}`,
        `seed: ${c.seed}`,
      ].join('\n');
      out.push(`${open}>`, `      <failure type="${c.outcome}" message="${xml(failureMessage(c))}">${xml(body)}</failure>`, '    </testcase>');
    }
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

// ---- summary.md ----

export interface CatchRate {
  bug: string;
  caught: number;
  ran: number;
}

/** Per seeded bug (or set of bugs), over the cells that must catch it and ran to a valid or invalid verdict. */
export function catchRates(cells: CellResult[]): CatchRate[] {
  const rates = new Map<string, CatchRate>();
  for (const c of cells) {
    if (c.expected !== 'invalid' || c.bugs.length === 0) continue;
    const bug = c.bugs.join('+');
    const r = rates.get(bug) ?? { bug, caught: 0, ran: 0 };
    rates.set(bug, r);
    // Only a verdict counts: a check that gave up (unknown) neither caught the bug nor missed it.
    if (c.outcome === 'crashed' || (c.verdict !== 'valid' && c.verdict !== 'invalid')) continue;
    r.ran++;
    if (c.verdict === 'invalid') r.caught++;
  }
  return [...rates.values()];
}

const pct = (r: CatchRate) => (r.ran === 0 ? '-' : `${Math.round((100 * r.caught) / r.ran)}%`);
const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function headline(r: CampaignResult): string {
  const parts = (Object.entries(r.counts) as [Outcome, number][]).filter(([, n]) => n > 0).map(([o, n]) => `${n} ${o}`);
  return `${r.campaign}: ${parts.join(', ') || 'no cells'} (exit ${r.exitCode})`;
}

export function summaryMd(r: CampaignResult): string {
  const lines = [`## Campaign ${headline(r)}`, ''];
  const shardNote = r.shards ? `; shards ${r.shards.map((s) => `${s.index}/${s.count}`).join(', ')}` : '';
  lines.push(
    `${r.cells.length} of ${r.totalCells} cells${shardNote}; budget ${r.budgetS} s; ${r.startedAt} to ${r.endedAt}${r.interrupted ? '; interrupted' : ''}. File: \`${r.file}\`.`,
    '',
  );
  if (r.cells.length < r.totalCells)
    lines.push(
      `**${r.totalCells - r.cells.length} of the campaign's cells are not here**: they are other shards' (join them with undertow campaign merge).`,
      '',
    );
  const bad = r.cells.filter((c) => c.outcome !== 'pass' && c.outcome !== 'not-run');
  if (bad.length > 0) {
    lines.push('### Not as expected', '', '| # | cell | expected | verdict | outcome | why | run |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const c of bad)
      lines.push(`| ${c.index + 1} | ${md(c.id)} | ${c.expected} | ${c.verdict ?? '-'} | ${c.outcome} | ${md(failureMessage(c))} | \`${c.run ?? '-'}\` |`);
    lines.push('');
  }
  const rates = catchRates(r.cells);
  if (rates.length > 0) {
    lines.push('### Catch rate per seeded bug', '', '| bug | caught | of cells with a verdict | rate |', '| --- | --- | --- | --- |');
    for (const x of rates) lines.push(`| ${md(x.bug)} | ${x.caught} | ${x.ran} | ${pct(x)} |`);
    lines.push('');
  }
  lines.push(
    '### Cells',
    '',
    '| # | cell | expected | verdict | outcome | seconds | ok ops/s | p99 ms | run |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const c of r.cells)
    lines.push(
      `| ${c.index + 1} | ${md(c.id)} | ${c.expected} | ${c.verdict ?? '-'} | ${c.outcome} | ${c.durationS ?? '-'} | ${c.throughput ?? '-'} | ${c.p99 ?? '-'} | \`${c.run ?? md(c.note ?? '-')}\` |`,
    );
  lines.push('');
  return lines.join('\n');
}
