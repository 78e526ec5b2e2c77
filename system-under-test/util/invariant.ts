// Assertions on protocol invariants. A violated invariant means the code (or a
// seeded bug) broke a safety property; we stop loudly instead of limping on with
// corrupt state, TigerBeetle-style. The message says which invariant and why.

export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new InvariantError(typeof message === 'function' ? message() : message);
  }
}
