// `undertow convert FILE --to edn|jsonl`: a history in the other format, on
// standard output, e.g. to hand one of ours to Jepsen's tools (Knossos, Elle).

import type { CommandModule } from 'yargs';
import { formatEdn } from '../../history/edn.js';
import { formatJsonl } from '../../history/jsonl.js';
import { pairOps } from '../../history/pair.js';
import { readHistoryFile } from '../../history/read.js';

interface ConvertArgs {
  file: string;
  to: string;
  independent: boolean;
}

export function convertCommand(): CommandModule<object, ConvertArgs> {
  return {
    command: 'convert <file>',
    describe: 'Write a history in the other format (Jepsen EDN or our JSON lines) to standard output',
    builder: (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'history file: .jsonl (ours) or .edn (Jepsen)' })
        .option('to', { type: 'string', choices: ['edn', 'jsonl'], demandOption: true, describe: 'the format to write' })
        .option('independent', { type: 'boolean', default: false, describe: 'the input values are Jepsen independent [key value] tuples' })
        .example('$0 convert --to edn store/latest/history.jsonl > history.edn', 'a history for Jepsen tools'),
    handler: async (args) => {
      const { ops, lines } = await readHistoryFile(args.file, { independent: args.independent });
      // Validate pairing too: a converted history should be one a checker accepts.
      pairOps(ops, { file: args.file, lines });
      process.stdout.write(args.to === 'edn' ? formatEdn(ops) : formatJsonl(ops));
    },
  };
}
