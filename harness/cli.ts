#!/usr/bin/env node
// The `undertow` executable: everything lives in main.ts so tests can call it.
import { hideBin } from 'yargs/helpers';
import { main } from './main.js';

// `undertow ... | head` closes our stdout early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await main(hideBin(process.argv));
