#!/usr/bin/env node
// The `undertow` executable: everything lives in main.ts so tests can call it.
import { hideBin } from 'yargs/helpers';
import { main } from './main.js';

process.exitCode = await main(hideBin(process.argv));
