// `undertow check --model MODEL FILE`: check a recorded history for
// linearizability and print the verdict (and, if invalid, why). FILE may be a
// run folder (Jepsen's STORE/TEST/TIMESTAMP/ or ours); --json prints what a
// Jepsen checker can return as its result (docs/knossos.md).

import type { CommandModule } from 'yargs';
import {
  checkLinearizable,
  DEFAULT_BUDGET_MS,
  DEFAULT_MEMORY_BYTES,
  modelNamed,
  models,
  renderText,
  type LinearizabilityResult,
  type Semantics,
} from '../../checkers/linearizability/index.js';
import { InputError } from '../../history/input-error.js';
import { pairOps } from '../../history/pair.js';
import { historyPath, readHistoryFile } from '../../history/read.js';
import type { Value } from '../../history/types.js';

interface CheckArgs {
  file: string;
  model: string;
  budget: number;
  memory: number;
  json: boolean;
  'all-keys': boolean;
  independent?: boolean;
  init?: string;
  semantics: Semantics;
}

export function checkCommand(setExit: (code: number) => void): CommandModule<object, CheckArgs> {
  return {
    command: 'check <file>',
    describe: 'Check a history (JSON lines or Jepsen EDN, or a run folder) for linearizability',
    builder: (y) =>
      y
        .positional('file', {
          type: 'string',
          demandOption: true,
          describe: "history file, .jsonl (ours) or .edn (Jepsen), or a run folder: Jepsen's STORE/TEST/TIMESTAMP/ or ours",
        })
        .option('model', { type: 'string', demandOption: true, describe: `the sequential model: ${[...models.keys()].join(', ')}` })
        .option('init', {
          type: 'string',
          describe: 'the initial state as JSON: 0 for Knossos\'s (cas-register 0), {"x":0} for a multi-register, [1,2] for a queue or set',
        })
        .option('semantics', {
          choices: ['undertow', 'knossos'] as const,
          default: 'undertow' as Semantics,
          describe: 'knossos: an ok read of nil constrains nothing, as in Knossos (see README)',
        })
        .option('budget', { type: 'number', default: DEFAULT_BUDGET_MS / 1000, describe: 'seconds to search before the verdict is unknown' })
        .option('memory', { type: 'number', default: DEFAULT_MEMORY_BYTES / 2 ** 20, describe: 'MiB the search may cache before the verdict is unknown' })
        .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON, with Jepsen\'s "valid?" (docs/knossos.md)' })
        .option('all-keys', { type: 'boolean', default: false, describe: 'search every key even after one is invalid' })
        .option('independent', {
          type: 'boolean',
          describe: 'values are Jepsen independent [key value] tuples (default: detected; --no-independent to never split)',
        })
        .example('$0 check --model cas-register --init 0 history.edn', "check a Jepsen register history as Knossos's (cas-register 0) would")
        .example('$0 check --model mutex store/etcd-lock/latest/', 'check the last run of a Jepsen test, straight from its store'),
    handler: async (args) => {
      if (!(args.budget > 0)) throw new InputError(`--budget must be a positive number of seconds, got ${args.budget}`);
      if (!(args.memory > 0)) throw new InputError(`--memory must be a positive number of MiB, got ${args.memory}`);
      const init = args.init === undefined ? undefined : parseInit(args.init);
      const model = modelNamed(args.model, { init, semantics: args.semantics });
      const file = historyPath(args.file);
      const { ops, lines, independent } = await readHistoryFile(file, { independent: args.independent ?? 'detect' });
      const lineOfIndex = new Map<number, number>();
      ops.forEach((op, i) => lineOfIndex.set(op.index, lines[i]));
      const operations = pairOps(ops, { file, lines });
      const result = checkLinearizable(model, operations, {
        budgetMs: args.budget * 1000,
        memoryBytes: args.memory * 2 ** 20,
        allParts: args['all-keys'],
        source: { file, lineOf: (index) => lineOfIndex.get(index) },
      });
      const meta = { file, init: init ?? null, semantics: args.semantics, independent };
      process.stdout.write(args.json ? `${JSON.stringify(jepsenResult(result, meta), null, 2)}\n` : `${describeResult(file, result, { ...args, ...meta })}\n`);
      setExit(result.verdict === 'valid' ? 0 : result.verdict === 'invalid' ? 1 : 2);
    },
  };
}

function parseInit(text: string): Value {
  try {
    return JSON.parse(text) as Value;
  } catch {
    throw new InputError(
      `--init must be a JSON value, got ${JSON.stringify(text)}`,
      {},
      'e.g. --init 0, --init \'"a"\', --init \'{"x":0,"y":0}\', --init \'[1,2]\'',
    );
  }
}

interface Meta {
  file: string;
  init: Value;
  semantics: Semantics;
  independent: boolean;
}

/**
 * The result with what a Jepsen checker returns on top: "valid?" (true, false
 * or "unknown", which a Clojure caller turns into :unknown), the cause of an
 * unknown as Knossos names it, per-key results and failed keys as
 * jepsen.independent/checker has them, and the first counterexample.
 */
export function jepsenResult(r: LinearizabilityResult, meta: Meta): Record<string, unknown> {
  const keyed = r.parts.some((p) => p.key !== undefined);
  const out: Record<string, unknown> = {
    'valid?': r.valid,
    analyzer: 'undertow',
    model: r.model,
    ...meta,
  };
  if (r.verdict === 'unknown') out.cause = r.gaveUp === 'memory' ? 'memory' : 'timeout';
  if (keyed) {
    const results: Record<string, unknown> = {};
    for (const p of r.parts)
      results[String(p.key)] = { 'valid?': p.verdict === 'valid' ? true : p.verdict === 'invalid' ? false : 'unknown', ops: p.ops, ms: p.ms };
    out.results = results;
    out['failed-keys'] = r.failures.map((f) => f.key);
  }
  out.counterexample = r.failures[0] ?? null;
  out.text = r.failures[0] ? renderText(r.failures[0]) : null;
  return { ...out, ...r };
}

export function describeResult(
  file: string,
  r: LinearizabilityResult,
  budgets: { budget: number; memory: number; init?: Value; semantics?: Semantics; independent?: boolean },
): string {
  const parts = r.partitions === 1 ? '1 part' : `${r.partitions} keys`;
  const model = `model ${r.model}${budgets.init !== undefined && budgets.init !== null ? ` from ${JSON.stringify(budgets.init)}` : ''}${budgets.semantics === 'knossos' ? ', knossos semantics' : ''}`;
  const split = budgets.independent ? ', independent [key value] tuples' : '';
  const head = `${r.verdict}: ${file} (${model}, ${r.ops} ops${split}, ${parts}, ${r.ms.toFixed(1)} ms)`;
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
