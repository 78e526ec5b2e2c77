// What the results browser knows about campaigns: store/campaigns/NAME/
// TIMESTAMP/campaign.json (written by `undertow campaign`), one entry per
// campaign name with its folders newest first. Read as plain JSON with every
// field optional, like the runs: a damaged file lists as a problem, never
// breaks the page.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface CampaignSummary {
  /** campaigns/NAME/TIMESTAMP, relative to the store. */
  path: string;
  startedAt: string | null;
  exitCode: number | null;
  counts: Record<string, number>;
  cells: number;
  totalCells: number | null;
  /** Shards as I/N; empty for a whole (unsharded) campaign. */
  shards: string[];
  /** Holds every cell: unsharded, or merged from all its shards. */
  whole: boolean;
  problem: string | null;
}

export interface CampaignLine {
  name: string;
  /** Newest first. */
  campaigns: CampaignSummary[];
}

const dirs = (d: string) => (existsSync(d) ? readdirSync(d).filter((e) => statSync(join(d, e)).isDirectory()) : []);

export function listCampaigns(store: string): CampaignLine[] {
  const root = join(store, 'campaigns');
  return dirs(root)
    .sort()
    .map((name) => ({
      name,
      campaigns: dirs(join(root, name))
        .filter((t) => existsSync(join(root, name, t, 'campaign.json')))
        .sort()
        .reverse()
        .map((t) => summarize(join(root, name, t), `campaigns/${name}/${t}`)),
    }))
    .filter((l) => l.campaigns.length > 0);
}

function summarize(dir: string, path: string): CampaignSummary {
  try {
    const r = JSON.parse(readFileSync(join(dir, 'campaign.json'), 'utf8')) as {
      startedAt?: string;
      exitCode?: number;
      counts?: Record<string, number>;
      cells?: unknown[];
      totalCells?: number;
      shards?: { index: number; count: number }[] | null;
    };
    const shards = (r.shards ?? []).map((s) => `${s.index}/${s.count}`);
    const n = r.shards?.[0]?.count ?? 0;
    return {
      path,
      startedAt: r.startedAt ?? null,
      exitCode: r.exitCode ?? null,
      counts: r.counts ?? {},
      cells: r.cells?.length ?? 0,
      totalCells: r.totalCells ?? null,
      shards,
      whole: shards.length === 0 || new Set(shards).size === n,
      problem: null,
    };
  } catch (e) {
    return {
      path,
      startedAt: null,
      exitCode: null,
      counts: {},
      cells: 0,
      totalCells: null,
      shards: [],
      whole: false,
      problem: `campaign.json: ${(e as Error).message}`,
    };
  }
}
