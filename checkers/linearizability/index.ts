export { checkLinearizable, linearizable, toModelOp, DEFAULT_BUDGET_MS, DEFAULT_MEMORY_BYTES } from './check.js';
export type { CheckOptions, LinearizabilityResult, PartResult, Verdict } from './check.js';
export type { Counterexample, OpSummary, PrefixStep, Attempt } from './counterexample.js';
export { renderText } from './counterexample.js';
export type { Model, ModelOp, ModelOptions, Semantics } from './model.js';
export { partitionByKey, valueEqual } from './model.js';
export { models, modelNamed, register, casRegister, kv, set, mutex, multiRegister, fifoQueue, unorderedQueue } from './models/index.js';
