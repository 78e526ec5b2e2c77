// The search for a linearization of one part of a history: Wing & Gong's
// depth-first search with Lowe's cache, as Porcupine does it.
//
// Events (calls and returns) sit in a doubly linked list in history order. At
// each step the search walks the list from its head: at a call it tries to
// apply that op to the model state; if the model accepts and the pair
// (set of linearized ops, state) is new, the op is linearized and lifted out of
// the list, and the walk restarts at the head. Reaching a return means that op
// had to be linearized by now: backtrack to the last choice and try the next
// call after it. Every op linearized means the part is linearizable; an empty
// stack at a return means it is not.
//
// Semantics of outcomes: `fail` ops did not happen and are not searched at all.
// `info` ops may take effect at any point after their call, or never: they have
// no return event, and the search succeeds once every `ok` op is linearized,
// whatever info ops are left. Identical info ops (same f, key and argument) are
// interchangeable, so only the earliest unlinearized one of a kind is tried.
//
// Forced moves: an ok read-only op (Model.readOnly) that the model accepts at
// a call node is linearized there and never tried later. If any linearization
// continues from here, one continues with that read first: the read changes no
// state, it is callable (no return precedes its call in the list), and moving
// it earlier breaks no real-time order. So when the search backtracks over it,
// this level has failed too. Without this, k concurrent reads of one value
// make 2^k linearized sets; with it, histories where many clients read a key
// during a failover are checked in steps, not hundreds of millions.

import type { Operation } from '../../history/types.js';
import type { Model, ModelOp } from './model.js';

export interface SearchOptions {
  /** performance.now() value past which the search gives up. */
  deadline: number;
  /**
   * Bytes the caches of all parts may take together, shared and counted by
   * every search of one check; past it the search gives up.
   */
  memory: { used: number; limit: number };
}

export type GiveUp = 'time' | 'memory';

export type SearchOutcome<S> =
  | { verdict: 'valid'; steps: number; cacheSize: number; order: number[] }
  | { verdict: 'invalid'; steps: number; cacheSize: number; deepest: Deepest<S> }
  | { verdict: 'unknown'; steps: number; cacheSize: number; deepest: Deepest<S>; reason: GiveUp };

/** The furthest the search got: for the counterexample. */
export interface Deepest<S> {
  /** Ops (indices into the part's op list) in linearization order. */
  order: number[];
  /** Model state after `order`. */
  state: S;
  /** The op whose return was reached without it being linearized. */
  stuck: number;
}

const CHECK_CLOCK_EVERY = 4096;

/**
 * A resumable search: `run(steps)` works for at most about `steps` steps and
 * returns the outcome, or undefined if it is not done yet. Parts of a history
 * are searched round-robin, so one hard part does not hide an easy failure.
 */
export interface Search<S> {
  run(maxSteps: number): SearchOutcome<S> | undefined;
  readonly steps: number;
}

export function createSearch<S>(model: Model<S>, ops: readonly Operation[], modelOps: readonly ModelOp[], options: SearchOptions): Search<S> {
  const n = ops.length;

  // --- Build the event list: call events for all ops, return events for ok
  // ops, merged in history order. Calls come sorted by invocation (as pairOps
  // and partitions leave them; sorted here otherwise), returns are sorted by a
  // numeric key, so no per-event objects are made.
  const callOrder = new Int32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    callOrder[i] = i;
    if (i > 0 && ops[i].invokeIndex < ops[i - 1].invokeIndex) sorted = false;
  }
  if (!sorted) callOrder.sort((x, y) => ops[x].invokeIndex - ops[y].invokeIndex);
  let required = 0;
  for (let i = 0; i < n; i++) if (ops[i].type === 'ok') required++;
  const returnKeys = new Float64Array(required);
  for (let i = 0, k = 0; i < n; i++) if (ops[i].type === 'ok') returnKeys[k++] = ops[i].completeIndex * n + i;
  returnKeys.sort();
  const E = n + required;
  // Node 0 is the head sentinel, node E + 1 the tail sentinel; event k is node k + 1.
  const next = new Int32Array(E + 2);
  const prev = new Int32Array(E + 2);
  const nodeOp = new Int32Array(E + 2);
  const nodeIsCall = new Uint8Array(E + 2);
  const callNode = new Int32Array(n);
  const retNode = new Int32Array(n).fill(-1);
  for (let node = 1, c = 0, r = 0; node <= E; node++) {
    const retOp = r < required ? returnKeys[r] % n : -1;
    if (c < n && (r >= required || ops[callOrder[c]].invokeIndex < ops[retOp].completeIndex)) {
      const op = callOrder[c++];
      nodeOp[node] = op;
      nodeIsCall[node] = 1;
      callNode[op] = node;
    } else {
      r++;
      nodeOp[node] = retOp;
      retNode[retOp] = node;
    }
  }
  for (let node = 0; node <= E + 1; node++) {
    next[node] = node + 1;
    prev[node] = node - 1;
  }
  const TAIL = E + 1;

  const lift = (op: number) => {
    const c = callNode[op];
    next[prev[c]] = next[c];
    prev[next[c]] = prev[c];
    const r = retNode[op];
    if (r >= 0) {
      next[prev[r]] = next[r];
      prev[next[r]] = prev[r];
    }
  };
  const unlift = (op: number) => {
    // Reinsert in the reverse order of removal; the lifted nodes kept their links.
    const r = retNode[op];
    if (r >= 0) {
      next[prev[r]] = r;
      prev[next[r]] = r;
    }
    const c = callNode[op];
    next[prev[c]] = c;
    prev[next[c]] = c;
  };

  // --- Interchangeable info ops: each points at the previous one of its kind.
  const sameKindBefore = new Int32Array(n).fill(-1);
  let lastOfKind: Map<string, number> | undefined;
  for (let c = 0; c < n; c++) {
    const i = callOrder[c];
    if (ops[i].type !== 'info') continue;
    const kind = `${ops[i].f}\u0000${JSON.stringify(ops[i].key ?? null)}\u0000${JSON.stringify(ops[i].input)}`;
    lastOfKind ??= new Map();
    const before = lastOfKind.get(kind);
    if (before !== undefined) sameKindBefore[i] = before;
    lastOfKind.set(kind, i);
  }

  // --- The linearized set as a bitset with an incremental (Zobrist) hash.
  // `low` is its first word that is not full and `high` its last word that is
  // not empty: linearized sets are a dense prefix and a sparse window, so the
  // cache stores only words low..high, which also makes them canonical.
  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  let low = 0;
  let high = -1;
  const zobrist = new Int32Array(n);
  {
    let x = 0x9e3779b9 | 0;
    for (let i = 0; i < n; i++) {
      // xorshift32: a fixed sequence, so runs are reproducible.
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      zobrist[i] = x;
    }
  }
  let setHash = 0;
  const setBit = (op: number) => {
    const w = op >>> 5;
    bits[w] |= 1 << (op & 31);
    setHash ^= zobrist[op];
    if (w > high) high = w;
    while (low < words && bits[low] === 0xffffffff) low++;
  };
  const clearBit = (op: number) => {
    const w = op >>> 5;
    bits[w] &= ~(1 << (op & 31));
    setHash ^= zobrist[op];
    if (w < low) low = w;
    while (high >= 0 && bits[high] === 0) high--;
  };

  // Cache of seen (set, state) pairs: a chained hash table whose entries'
  // words live back to back in one pooled array, so adding an entry allocates
  // nothing (a typed array per entry made garbage collection most of the run
  // time). Hashed by the set, mixed with the state's hash when the model has one.
  const hashState = model.hash?.bind(model);
  const stateSize = model.size?.bind(model);
  let capacity = 256;
  let entryHash = new Int32Array(capacity);
  let entryNext = new Int32Array(capacity);
  let entryLow = new Int32Array(capacity);
  // Entry e's words are pool[entryStart[e] .. entryStart[e + 1]).
  let entryStart = new Int32Array(capacity + 1);
  let pool = new Uint32Array(capacity * 4);
  const entryState: S[] = [];
  let table = new Int32Array(capacity * 2).fill(-1);
  let mask = table.length - 1;
  let cacheSize = 0;

  // What an entry costs besides its words: hash, link, low, start, state slot, two table slots.
  const ENTRY_BYTES = 4 * 4 + 8 + 8;
  options.memory.used += capacity * ENTRY_BYTES + pool.length * 4;
  let overBudget = false;
  const reserve = (bytes: number): boolean => {
    if (options.memory.used + bytes > options.memory.limit) {
      overBudget = true;
      return false;
    }
    options.memory.used += bytes;
    return true;
  };

  const growEntries = (): boolean => {
    if (!reserve(capacity * ENTRY_BYTES)) return false;
    capacity *= 2;
    const copy = (a: Int32Array, size: number) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    entryHash = copy(entryHash, capacity);
    entryLow = copy(entryLow, capacity);
    entryStart = copy(entryStart, capacity + 1);
    entryNext = new Int32Array(capacity);
    table = new Int32Array(capacity * 2).fill(-1);
    mask = table.length - 1;
    for (let e = 0; e < cacheSize; e++) {
      const slot = entryHash[e] & mask;
      entryNext[e] = table[slot];
      table[slot] = e;
    }
    return true;
  };

  const growPool = (need: number): boolean => {
    let size = pool.length * 2;
    while (size < need) size *= 2;
    if (!reserve((size - pool.length) * 4)) return false;
    const p = new Uint32Array(size);
    p.set(pool.subarray(0, entryStart[cacheSize]));
    pool = p;
    return true;
  };

  const cacheAdd = (state: S): boolean => {
    const h = hashState ? (setHash ^ Math.imul(hashState(state), 0x85ebca6b)) | 0 : setHash;
    const len = high >= low ? high - low + 1 : 0;
    const slot = h & mask;
    outer: for (let e = table[slot]; e >= 0; e = entryNext[e]) {
      if (entryHash[e] !== h || entryLow[e] !== low) continue;
      const start = entryStart[e];
      if (entryStart[e + 1] - start !== len) continue;
      for (let w = 0; w < len; w++) if (pool[start + w] !== bits[low + w]) continue outer;
      if (model.equal(entryState[e], state)) return false;
    }
    // Over the memory budget the pair is not cached (still correct, only
    // slower) and the search stops at its next clock check.
    if (cacheSize === capacity && !growEntries()) return true;
    if (stateSize && !reserve(stateSize(state))) return true;
    const start = entryStart[cacheSize];
    if (start + len > pool.length && !growPool(start + len)) return true;
    const e = cacheSize++;
    for (let w = 0; w < len; w++) pool[start + w] = bits[low + w];
    entryStart[e + 1] = start + len;
    entryLow[e] = low;
    entryHash[e] = h;
    const s = h & mask;
    entryNext[e] = table[s];
    table[s] = e;
    entryState.push(state);
    return true;
  };

  // --- Forced moves (see the file comment): ok ops that never change the state.
  const forced = new Uint8Array(n);
  if (model.readOnly) for (let i = 0; i < n; i++) if (ops[i].type === 'ok' && model.readOnly(ops[i])) forced[i] = 1;

  // --- The depth-first search.
  const stackOp = new Int32Array(n);
  const stackState: S[] = new Array(n);
  let depth = 0;
  let state = model.init();
  let node = next[0];
  let steps = 0;
  const deepestOrder = new Int32Array(n);
  let deepestDepth = 0;
  let deepestState = state;
  let deepestStuck = -1;
  let deepestOk = -1;
  const deepest = (): Deepest<S> => ({ order: Array.from(deepestOrder.subarray(0, deepestDepth)), state: deepestState, stuck: deepestStuck });
  const totalRequired = required;
  let done: SearchOutcome<S> | undefined;

  const run = (maxSteps: number): SearchOutcome<S> | undefined => {
    if (done) return done;
    const stop = steps + maxSteps;
    for (;;) {
      if (required === 0) {
        return (done = { verdict: 'valid', steps, cacheSize, order: Array.from(stackOp.subarray(0, depth)) });
      }
      if ((++steps & (CHECK_CLOCK_EVERY - 1)) === 0) {
        if (overBudget || performance.now() > options.deadline) {
          return (done = { verdict: 'unknown', steps, cacheSize, deepest: deepest(), reason: overBudget ? 'memory' : 'time' });
        }
        if (steps >= stop) return undefined;
      }
      if (node !== TAIL && nodeIsCall[node] === 1) {
        const op = nodeOp[node];
        const twin = sameKindBefore[op];
        if (twin < 0 || (bits[twin >>> 5] & (1 << (twin & 31))) !== 0) {
          const after = model.step(state, modelOps[op]);
          if (after !== undefined) {
            setBit(op);
            if (cacheAdd(after)) {
              stackOp[depth] = op;
              stackState[depth] = state;
              depth++;
              state = after;
              if (retNode[op] >= 0) required--;
              lift(op);
              node = next[0];
              continue;
            }
            clearBit(op);
            // Seen with this read already, and that failed: so does this level.
            if (forced[op] === 1) {
              const outcome = backtrack();
              if (outcome !== undefined) return (done = outcome);
              continue;
            }
          }
        }
        node = next[node];
        continue;
      }

      // A return (or the end of the list): the op it belongs to can no longer be
      // linearized on this path.
      // Deepest counts ok ops placed: info ops placed on top of a prefix explain
      // nothing. Kept in a preallocated buffer: this runs on every backtrack.
      const placedOk = totalRequired - required;
      if (placedOk > deepestOk) {
        for (let d = 0; d < depth; d++) deepestOrder[d] = stackOp[d];
        deepestDepth = depth;
        deepestState = state;
        deepestStuck = node === TAIL ? -1 : nodeOp[node];
        deepestOk = placedOk;
      }
      const outcome = backtrack();
      if (outcome !== undefined) return (done = outcome);
    }
  };

  /** Undo the last choice and move on to the next candidate after it; over forced moves, undo further. */
  const backtrack = (): SearchOutcome<S> | undefined => {
    for (;;) {
      if (depth === 0) return { verdict: 'invalid', steps, cacheSize, deepest: deepest() };
      depth--;
      const op = stackOp[depth];
      state = stackState[depth];
      stackState[depth] = undefined as S;
      clearBit(op);
      if (retNode[op] >= 0) required++;
      unlift(op);
      if (forced[op] === 0) {
        node = next[callNode[op]];
        return undefined;
      }
    }
  };
  return {
    run,
    get steps() {
      return steps;
    },
  };
}
