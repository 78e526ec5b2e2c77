// The `undertow` command. Each subcommand lives in commands/; this file wires
// them into yargs and owns the exit-code contract (Jepsen's):
//   0 valid, 1 invalid, 2 unknown, 254 bad arguments or input, 255 the harness failed.

import yargs from 'yargs';
import { InputError } from '../history/input-error.js';
import { benchCommand } from './commands/bench.js';
import { campaignCommand } from './commands/campaign.js';
import { analyzeCommand, reportCommand } from './commands/analyze.js';
import { checkCommand } from './commands/check.js';
import { clusterCommand } from './commands/cluster.js';
import { convertCommand } from './commands/convert.js';
import { testCommand } from './commands/test.js';
import { serveCommand } from './commands/serve.js';

export const EXIT = { valid: 0, invalid: 1, unknown: 2, badInput: 254, harnessFailed: 255 } as const;

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.valid;
  const setExit = (code: number) => {
    exitCode = code;
  };
  try {
    await yargs(argv)
      .scriptName('undertow')
      .usage('$0 <command> [options]')
      .command(testCommand(setExit))
      .command(benchCommand(setExit))
      .command(campaignCommand(setExit))
      .command(checkCommand(setExit))
      .command(convertCommand())
      .command(clusterCommand())
      .command(analyzeCommand(setExit))
      .command(reportCommand())
      .command(serveCommand())
      .demandCommand(1, 'name a command: undertow check ... (see undertow --help)')
      .strict()
      .recommendCommands()
      .fail((message, error) => {
        // yargs calls this for its own parse errors and for errors thrown by handlers.
        if (error) throw error;
        throw new InputError(message ?? 'bad arguments', {}, 'see undertow --help');
      })
      .help()
      .version()
      .wrap(Math.min(100, process.stdout.columns || 100))
      .parseAsync();
  } catch (error) {
    if (error instanceof InputError) {
      process.stderr.write(`undertow: ${error.toLine()}\n`);
      return EXIT.badInput;
    }
    process.stderr.write(`undertow: internal error (a bug in undertow, please report it):\n${error instanceof Error ? error.stack : String(error)}\n`);
    return EXIT.harnessFailed;
  }
  return exitCode;
}
