// Why a part of a history is not linearizable, in terms a person can follow:
// the longest prefix the search could linearize, the state it led to, the op
// whose return came before it could be placed, and for every op that was open
// at that point what the model says about applying it there.

import type { Key, Operation, Value } from '../../history/types.js';
import type { Model, ModelOp } from './model.js';
import type { Deepest } from './search.js';

export interface OpSummary {
  process: number;
  f: string;
  input: Value;
  output: Value;
  type: 'ok' | 'info' | 'fail';
  invokeIndex: number;
  /** null for ops without a completion (info). */
  completeIndex: number | null;
  /** The model's own rendering, e.g. `read -> 3` or `cas 1 -> 2`. */
  description: string;
}

export interface PrefixStep {
  op: OpSummary;
  /** The model state after this op. */
  stateAfter: string;
}

export interface Attempt {
  op: OpSummary;
  /** What applying the op in the final state gives: the next state, or why it cannot happen. */
  outcome: string;
}

export interface Counterexample {
  key: Key | null;
  /** The longest linearizable prefix the search found, in order. */
  prefix: PrefixStep[];
  /** The model state after the prefix. */
  state: string;
  /** The op that could not be linearized before it returned. */
  stuck: OpSummary | null;
  /** Ops concurrent with the stuck op (their intervals overlap), in the prefix or not. */
  concurrent: OpSummary[];
  /** Each op still open at the stuck op's return, tried in the final state. */
  attempts: Attempt[];
}

export function summarize(model: Model<unknown>, op: Operation, modelOp: ModelOp): OpSummary {
  return {
    process: op.process,
    f: op.f,
    input: op.input,
    output: op.output,
    type: op.type,
    invokeIndex: op.invokeIndex,
    completeIndex: Number.isFinite(op.completeIndex) ? op.completeIndex : null,
    description: model.describeOp(modelOp),
  };
}

export function explain<S>(
  model: Model<S>,
  key: Key | undefined,
  ops: readonly Operation[],
  modelOps: readonly ModelOp[],
  deepest: Deepest<S>,
): Counterexample {
  const m = model as Model<unknown>;
  const sum = (i: number) => summarize(m, ops[i], modelOps[i]);

  const prefix: PrefixStep[] = [];
  let state = model.init();
  for (const i of deepest.order) {
    const after = model.step(state, modelOps[i]);
    // The search took this step, so the model must accept it again.
    if (after === undefined) throw new Error(`model ${model.name} is not deterministic: it accepted then refused ${model.describeOp(modelOps[i])}`);
    state = after;
    prefix.push({ op: sum(i), stateAfter: model.describeState(state) });
  }

  const placed = new Set(deepest.order);
  const stuck = deepest.stuck >= 0 ? ops[deepest.stuck] : undefined;
  const concurrent: OpSummary[] = [];
  const attempts: Attempt[] = [];
  if (stuck) {
    for (let i = 0; i < ops.length; i++) {
      if (i === deepest.stuck) continue;
      const op = ops[i];
      if (op.invokeIndex < stuck.completeIndex && op.completeIndex > stuck.invokeIndex) concurrent.push(sum(i));
    }
    for (let i = 0; i < ops.length; i++) {
      if (placed.has(i) || ops[i].invokeIndex > stuck.completeIndex) continue;
      const after = model.step(state, modelOps[i]);
      attempts.push({
        op: sum(i),
        outcome: after === undefined ? `impossible in state ${model.describeState(state)}` : `would leave state ${model.describeState(after)}`,
      });
    }
  }

  return {
    key: key ?? null,
    prefix,
    state: model.describeState(state),
    stuck: stuck ? sum(deepest.stuck) : null,
    concurrent,
    attempts,
  };
}

function where(op: OpSummary): string {
  return `process ${op.process}, events ${op.invokeIndex}..${op.completeIndex ?? '?'}`;
}

/** The counterexample as readable text. */
export function renderText(ce: Counterexample): string {
  const lines: string[] = [];
  lines.push(`Not linearizable${ce.key !== null ? ` for key ${JSON.stringify(ce.key)}` : ''}.`);
  if (ce.prefix.length === 0) {
    lines.push(`No op could be linearized first; the state is still ${ce.state}.`);
  } else {
    lines.push(`Longest linearizable prefix (${ce.prefix.length} ops):`);
    const shown = ce.prefix.length > 12 ? [...ce.prefix.slice(0, 4), null, ...ce.prefix.slice(-7)] : ce.prefix;
    for (const step of shown) {
      lines.push(step === null ? `  ... ${ce.prefix.length - 11} more ...` : `  ${step.op.description.padEnd(28)} => ${step.stateAfter}   (${where(step.op)})`);
    }
  }
  if (ce.stuck) {
    lines.push(`Then ${ce.stuck.description} (${where(ce.stuck)}) returned, but it cannot be linearized in state ${ce.state}.`);
    if (ce.attempts.length > 0) {
      lines.push('Ops open at that point, tried in that state:');
      for (const a of ce.attempts) lines.push(`  ${a.op.description.padEnd(28)} ${a.outcome}   (${where(a.op)})`);
    }
    if (ce.concurrent.length > 0) {
      lines.push(`Concurrent with it: ${ce.concurrent.map((o) => `${o.description} [p${o.process}]`).join(', ')}.`);
    }
  }
  return lines.join('\n');
}
