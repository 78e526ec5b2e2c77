// `undertow campaign FILE`: a matrix of tests from a campaign file, run one
// after another within a time budget, with JUnit, a Markdown summary and an
// HTML page with trends (harness/campaign/). `undertow campaign merge DIR...`
// joins the results of shards run on several machines.
// Exit codes: 0 every cell as expected, 1 some cell not, 2 only unknown or
// not-run cells besides passes, 254 a bad file or flag, 255 the harness failed.

import { onInterrupt } from '../run/interrupt.js';
import type { CommandModule } from 'yargs';
import { InputError } from '../../history/input-error.js';
import { DEFAULT_STORE } from '../../results/store.js';
import type { Provider } from '../core/provider.js';
import { runTest } from '../run/run-test.js';
import { expandCells, parseShard, shardOf, type Cell } from '../campaign/cells.js';
import { readCampaignFile } from '../campaign/parse.js';
import { headline, mergeCampaigns, readCampaign, writeCampaign } from '../campaign/report.js';
import { describeCell, runCampaign } from '../campaign/run.js';
import { checkMachine, PROVIDERS } from '../run/test-flags.js';

interface CampaignArgs {
  file: string;
  dirs?: string[];
  list: boolean;
  shard?: string;
  store: string;
}

export function campaignCommand(setExit: (code: number) => void): CommandModule<object, CampaignArgs> {
  return {
    command: 'campaign <file> [dirs..]',
    describe: 'Run a campaign file: a matrix of tests within a time budget, with junit.xml, summary.md and campaign.html (campaign merge DIR... joins shards)',
    builder: (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'the campaign file (YAML or JSON), or merge followed by shard folders' })
        .positional('dirs', { type: 'string', array: true, describe: 'with merge: the campaign folders of the shards (store/campaigns/NAME/TIMESTAMP)' })
        .option('list', { type: 'boolean', default: false, describe: 'print the cells (of this shard) and run nothing' })
        .option('shard', { type: 'string', describe: 'run share I of N (I/N): the cells whose index is I-1 modulo N' })
        .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'where runs and store/campaigns/NAME/TIMESTAMP are written' })
        .example('$0 campaign campaigns/smoke.yaml', 'every workload under every fault, correct build')
        .example('$0 campaign campaigns/nightly.yaml --shard 2/4', 'the second of four machines')
        .example('$0 campaign merge store/campaigns/nightly/*', 'join the shards'),
    handler: async (args) => {
      setExit(args.file === 'merge' ? merge(args) : await campaign(args));
    },
  };
}

function merge(args: CampaignArgs): number {
  const parts = (args.dirs ?? []).map((dir) => ({ dir, result: readCampaign(dir) }));
  const merged = mergeCampaigns(parts);
  const dir = writeCampaign(args.store, merged);
  process.stdout.write(`${headline(merged)}\ncampaign: ${dir}\n`);
  return merged.exitCode;
}

async function campaign(args: CampaignArgs): Promise<number> {
  if (args.dirs && args.dirs.length > 0)
    throw new InputError(`unexpected arguments after the campaign file: ${args.dirs.join(' ')}`, {}, 'give one campaign file, or merge DIR... to join shards');
  const file = readCampaignFile(args.file);
  const shard = args.shard !== undefined ? parseShard(args.shard) : null;
  // Every cell is checked before any runs: a mistake in the last cell must not cost the night.
  const all = expandCells(file, args.store);
  const cells = shardOf(all, shard);
  if (args.list) {
    for (const c of cells) process.stdout.write(`${describeCell(c, all.length)}\n`);
    process.stdout.write(`${cells.length} of ${all.length} cells${shard ? ` (shard ${shard.index}/${shard.count})` : ''}; budget ${file.budget} s\n`);
    return 0;
  }
  const seen = new Set<string>();
  for (const c of cells) {
    const key = `${c.config.provider} ${c.config.nemesis.join(',')}`;
    if (!seen.has(key)) await checkMachine(c.config);
    seen.add(key);
  }
  const providers = new Map<string, Provider>();
  const { stop, release } = onInterrupt('finishing this cell (checked on what it recorded), starting no more, writing the results');
  try {
    const runCell = async (cell: Cell, signal: AbortSignal) => {
      let provider = providers.get(cell.config.provider);
      if (!provider) providers.set(cell.config.provider, (provider = await PROVIDERS[cell.config.provider]()));
      return runTest(cell.config, provider, signal);
    };
    process.stderr.write(`undertow: campaign ${file.name}: ${cells.length} of ${all.length} cells, budget ${file.budget} s\n`);
    const result = await runCampaign(cells, {
      name: file.name,
      file: args.file,
      budgetS: file.budget,
      store: args.store,
      shard,
      totalCells: all.length,
      runCell,
      stop: stop.signal,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    const dir = writeCampaign(args.store, result);
    process.stdout.write(`${headline(result)}\ncampaign: ${dir} (campaign.html, junit.xml, summary.md, campaign.json)\n`);
    return result.exitCode;
  } finally {
    release();
  }
}
