// The history module: op types, readers and writers for JSON lines and Jepsen
// EDN, file reading with format detection, and pairing into operations.

export * from './types.js';
export { InputError, type Where } from './input-error.js';
export { pairOps } from './pair.js';
export { parseJsonl, formatJsonl, formatOp, type JsonlParseOptions } from './jsonl.js';
export { parseEdn, formatEdn, formatEdnOp, ednValue, type EdnParseOptions } from './edn.js';
export {
  readHistoryFile,
  readHistoryFileSync,
  readOperations,
  readOperationsSync,
  parseHistory,
  historyPath,
  looksIndependent,
  type HistoryFormat,
  type ReadOptions,
  type ReadResult,
} from './read.js';
