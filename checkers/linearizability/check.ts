// Checking a whole history: validate ops against the model, drop what cannot
// matter, split by the model's partition, search each part under one shared
// time budget, and explain the first failure of each invalid part.

import { InputError, type Where } from '../../history/input-error.js';
import type { Key, Operation } from '../../history/types.js';
import { explain, type Counterexample } from './counterexample.js';
import type { Model, ModelOp } from './model.js';
import { createSearch, type Search } from './search.js';
import { validOf, type Checker, type Verdict } from '../result.js';

export type { Verdict };

export interface CheckOptions {
  /** Time budget in milliseconds; past it the verdict is `unknown`. Default 60 s. */
  budgetMs?: number;
  /** Memory budget of the search's caches in bytes; past it the verdict is `unknown`. Default 1 GiB. */
  memoryBytes?: number;
  /**
   * Search every part to the end even after one is invalid (to list every
   * failing key). Default false: like Porcupine and Knossos, stop at the first
   * invalid part, since one counterexample already decides the verdict.
   */
  allParts?: boolean;
  /** For error messages: which file the ops came from, and the line of an event index. */
  source?: { file?: string; lineOf?: (index: number) => number | undefined };
}

export interface PartResult {
  key: Key | undefined;
  ops: number;
  verdict: Verdict;
  steps: number;
  cacheSize: number;
  ms: number;
}

export interface LinearizabilityResult {
  checker: 'linearizability';
  model: string;
  verdict: Verdict;
  /** Jepsen's `:valid?`: true, false or "unknown". */
  valid: true | false | 'unknown';
  /** Client operations in the history, and how many the search had to place. */
  ops: number;
  searched: number;
  /** Unknown-outcome ops the model showed cannot matter (Model.prune), not searched. */
  pruned: number;
  partitions: number;
  /** One counterexample per invalid part found (the first only, unless allParts). */
  failures: Counterexample[];
  /** Keys whose search ran out of budget, or was stopped after another key failed. */
  unknownKeys: (Key | null)[];
  /** Which budget ran out first, when one did. */
  gaveUp?: 'time' | 'memory';
  parts: PartResult[];
  ms: number;
}

export const DEFAULT_BUDGET_MS = 60_000;
export const DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024;
const SLICE_STEPS = 4096;
const MAX_SLICE_STEPS = 1 << 20;

export function checkLinearizable<S>(model: Model<S>, operations: readonly Operation[], options: CheckOptions = {}): LinearizabilityResult {
  const started = performance.now();
  const deadline = started + (options.budgetMs ?? DEFAULT_BUDGET_MS);
  const memory = { used: 0, limit: options.memoryBytes ?? DEFAULT_MEMORY_BYTES };

  if (model.validate) {
    for (const op of operations) {
      const problem = model.validate(op);
      if (problem !== undefined) {
        const where: Where = { file: options.source?.file, line: options.source?.lineOf?.(op.invokeIndex) };
        throw new InputError(`${problem} (op at index ${op.invokeIndex}, process ${op.process})`, where, `check the history or pick another --model`);
      }
    }
  }

  // A failed op did not happen; an unknown read could not have changed anything.
  const relevant = operations.filter((op) => op.type !== 'fail' && !(op.type === 'info' && model.readOnly?.(op)));
  const split = model.partition ? model.partition(relevant) : new Map<Key | undefined, Operation[]>([[undefined, relevant]]);
  const parts = new Map<Key | undefined, Operation[]>();
  let pruned = 0;
  for (const [key, ops] of split) {
    const kept = model.prune ? model.prune(ops) : ops;
    pruned += ops.length - kept.length;
    parts.set(key, kept);
  }

  const result: LinearizabilityResult = {
    checker: 'linearizability',
    model: model.name,
    verdict: 'valid',
    valid: true,
    ops: operations.length,
    searched: relevant.length - pruned,
    pruned,
    partitions: parts.size,
    failures: [],
    unknownKeys: [],
    parts: [],
    ms: 0,
  };

  // Parts are searched round-robin in slices of steps, so that a hard part
  // neither starves an easy one nor hides its failure. Part times in the
  // result count only the slices spent on that part.
  // A part's search is set up on its first slice: after an early failure the
  // rest never cost anything.
  interface Running {
    key: Key | undefined;
    ops: Operation[];
    modelOps?: ModelOp[];
    search?: Search<S>;
    ms: number;
    index: number;
  }
  let running: Running[] = [...parts].map(([key, ops], index) => ({ key, ops, ms: 0, index }));
  const finished: PartResult[] = new Array(running.length);
  let stopped = false;
  for (let slice = SLICE_STEPS; running.length > 0; slice = Math.min(slice * 2, MAX_SLICE_STEPS)) {
    const still: Running[] = [];
    for (const part of running) {
      if (stopped) {
        finished[part.index] = { key: part.key, ops: part.ops.length, verdict: 'unknown', steps: part.search?.steps ?? 0, cacheSize: 0, ms: part.ms };
        result.unknownKeys.push(part.key ?? null);
        continue;
      }
      const t = performance.now();
      part.modelOps ??= part.ops.map(toModelOp);
      part.search ??= createSearch(model, part.ops, part.modelOps, { deadline, memory });
      const outcome = part.search.run(slice);
      part.ms += performance.now() - t;
      if (outcome === undefined) {
        still.push(part);
        continue;
      }
      finished[part.index] = { key: part.key, ops: part.ops.length, verdict: outcome.verdict, steps: outcome.steps, cacheSize: outcome.cacheSize, ms: part.ms };
      if (outcome.verdict === 'invalid') {
        result.failures.push(explain(model, part.key, part.ops, part.modelOps, outcome.deepest));
        if (!options.allParts) stopped = true;
      } else if (outcome.verdict === 'unknown') {
        result.unknownKeys.push(part.key ?? null);
        result.gaveUp ??= outcome.reason;
      }
    }
    running = still;
  }
  result.parts = finished;

  result.verdict = result.failures.length > 0 ? 'invalid' : result.unknownKeys.length > 0 ? 'unknown' : 'valid';
  result.valid = validOf(result.verdict);
  result.ms = performance.now() - started;
  return result;
}

export function toModelOp(op: Operation): ModelOp {
  return { f: op.f, key: op.key, input: op.input, output: op.output, known: op.type === 'ok' };
}

/** The linearizability check as a composable checker (see ../result.ts). */
export function linearizable<S>(model: Model<S>, options: CheckOptions = {}): Checker {
  return (_history, operations) => ({ ...checkLinearizable(model, operations, options) });
}
