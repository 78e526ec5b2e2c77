import { InputError } from './input-error.js';
import type { History, Op, Operation } from './types.js';

/**
 * Pairs each client invocation with its completion (same process, next event
 * of that process). Nemesis ops are skipped. Validates what pairing depends on:
 * indices increase, a process has at most one op open, a completion answers an
 * open invocation of the same f.
 *
 * `lines[i]` is the 1-based source line of `history[i]`, for error messages.
 */
export function pairOps(history: History, source: { file?: string; lines?: number[] } = {}): Operation[] {
  const where = (i: number) => ({ file: source.file, line: source.lines ? source.lines[i] : i + 1 });
  const open = new Map<number, { op: Op; at: number; operation: Operation }>();
  const operations: Operation[] = [];
  let lastIndex = -Infinity;

  for (let i = 0; i < history.length; i++) {
    const op = history[i];
    if (!(op.index > lastIndex)) {
      throw new InputError(
        `index ${op.index} does not increase (the previous event has index ${lastIndex})`,
        where(i),
        'events must be in the order they happened, with increasing :index',
      );
    }
    lastIndex = op.index;
    if (typeof op.process !== 'number') continue; // the nemesis and other non-client actors

    if (op.type === 'invoke') {
      const pending = open.get(op.process);
      if (pending) {
        throw new InputError(
          `process ${op.process} invokes ${op.f} while its ${pending.op.f} from line ${where(pending.at).line} is still open`,
          where(i),
          'a process has one op at a time; give the next op a completion first or use a fresh process id',
        );
      }
      const operation: Operation = {
        id: operations.length,
        process: op.process,
        f: op.f,
        key: op.key,
        input: op.value,
        output: null,
        type: 'info',
        invokeIndex: op.index,
        completeIndex: Infinity,
        invokeTime: op.time,
        completeTime: Infinity,
      };
      operations.push(operation);
      open.set(op.process, { op, at: i, operation });
      continue;
    }

    const pending = open.get(op.process);
    if (!pending) {
      throw new InputError(
        `${op.type} completion of ${op.f} by process ${op.process} has no open invocation`,
        where(i),
        'every completion must follow an :invoke of the same process',
      );
    }
    if (pending.op.f !== op.f) {
      throw new InputError(
        `completion f ${op.f} does not match the open invocation's f ${pending.op.f} (process ${op.process})`,
        where(i),
        'a completion repeats the :f of its invocation',
      );
    }
    open.delete(op.process);
    const operation = pending.operation;
    operation.type = op.type;
    if (op.error !== undefined) operation.error = op.error;
    if (op.type !== 'info') {
      operation.output = op.value;
      operation.completeIndex = op.index;
      operation.completeTime = op.time;
    }
    // An info completion keeps an infinite completion: the op may take effect
    // at any point after its invocation, or never.
  }
  return operations;
}
