// `undertow check --model MODEL FILE`: check a recorded history for
// linearizability and print the verdict (and, if invalid, why).

import type { CommandModule } from 'yargs';
import { checkLinearizable, DEFAULT_BUDGET_MS, DEFAULT_MEMORY_BYTES, modelNamed, models, renderText, type LinearizabilityResult } from '../../checkers/linearizability/index.js';
import { InputError } from '../../history/input-error.js';
import { pairOps } from '../../history/pair.js';
import { readHistoryFile } from '../../history/read.js';

interface CheckArgs {
  file: string;
  model: string;
  budget: number;
  memory: number;
  json: boolean;
  'all-keys': boolean;
  independent: boolean;
}

export function checkCommand(setExit: (code: number) => void): CommandModule<object, CheckArgs> {
  return {
    command: 'check <file>',
    describe: 'Check a history (JSON lines or Jepsen EDN) for linearizability',
    builder: (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'history file: .jsonl (ours) or .edn (Jepsen)' })
        .option('model', { type: 'string', demandOption: true, describe: `the sequential model: ${[...models.keys()].join(', ')}` })
        .option('budget', { type: 'number', default: DEFAULT_BUDGET_MS / 1000, describe: 'seconds to search before the verdict is unknown' })
        .option('memory', { type: 'number', default: DEFAULT_MEMORY_BYTES / 2 ** 20, describe: 'MiB the search may cache before the verdict is unknown' })
        .option('json', { type: 'boolean', default: false, describe: 'print the full result as JSON' })
        .option('all-keys', { type: 'boolean', default: false, describe: 'search every key even after one is invalid' })
        .option('independent', { type: 'boolean', default: false, describe: "values are Jepsen independent [key value] tuples: split them into key and value" })
        .example('$0 check --model cas-register history.edn', 'check a Jepsen register history'),
    handler: async (args) => {
      if (!(args.budget > 0)) throw new InputError(`--budget must be a positive number of seconds, got ${args.budget}`);
      if (!(args.memory > 0)) throw new InputError(`--memory must be a positive number of MiB, got ${args.memory}`);
      const model = modelNamed(args.model);
      const { ops, lines } = await readHistoryFile(args.file, { independent: args.independent });
      const lineOfIndex = new Map<number, number>();
      ops.forEach((op, i) => lineOfIndex.set(op.index, lines[i]));
      const operations = pairOps(ops, { file: args.file, lines });
      const result = checkLinearizable(model, operations, {
        budgetMs: args.budget * 1000,
        memoryBytes: args.memory * 2 ** 20,
        allParts: args['all-keys'],
        source: { file: args.file, lineOf: (index) => lineOfIndex.get(index) },
      });
      process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : `${describeResult(args.file, result, args)}\n`);
      setExit(result.verdict === 'valid' ? 0 : result.verdict === 'invalid' ? 1 : 2);
    },
  };
}

export function describeResult(file: string, r: LinearizabilityResult, budgets: { budget: number; memory: number }): string {
  const parts = r.partitions === 1 ? '1 part' : `${r.partitions} keys`;
  const head = `${r.verdict}: ${file} (model ${r.model}, ${r.ops} ops, ${parts}, ${r.ms.toFixed(1)} ms)`;
  if (r.verdict === 'valid') return `${head}\nThe history is linearizable.`;
  if (r.verdict === 'unknown') {
    const which = r.gaveUp === 'memory' ? `${budgets.memory} MiB memory budget` : `${budgets.budget} s budget`;
    const raise = r.gaveUp === 'memory' ? '--memory' : '--budget';
    const keys = r.unknownKeys.map((k) => (k === null ? 'the history' : `key ${JSON.stringify(k)}`)).join(', ');
    return `${head}\nThe ${which} ran out before ${keys} could be decided; raise ${raise} to search further, or check fewer ops per key.`;
  }
  const failed = r.failures.map(renderText).join('\n\n');
  const n = r.unknownKeys.length;
  const rest = n > 0 ? `\n(${n} other ${n === 1 ? 'key was' : 'keys were'} not searched to the end; --all-keys searches them all.)` : '';
  return `${head}\n${failed}${rest}`;
}
