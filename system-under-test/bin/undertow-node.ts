#!/usr/bin/env node
// `undertow-node`: a node of the reference cluster (see ../runtime/main.ts).
import { run } from '../runtime/main.js';

run(process.argv.slice(2));
