// Queues, as Knossos's fifo-queue and unordered-queue: enqueue v, and dequeue,
// whose completion's value is the element it took. One queue per key.
//
// Where the semantics differ (see Semantics in ../model.ts):
// - undertow: an ok dequeue of nil found the queue empty; an unknown dequeue
//   took the head (fifo), or some element (unordered), or found the queue
//   empty, or never happened.
// - knossos: nil is an element like any other, so a dequeue of an empty
//   queue is impossible (Jepsen's queue clients report it as a fail), and an
//   unknown dequeue is stepped with its invocation's value, nil, so in
//   practice it never happened.
//
// Values are compared as canonical JSON (key order ignored), the model's
// notion of equal elements.

import type { Operation, Value } from '../../../history/types.js';
import { canonical, hashString, partitionByKey, show, type Model, type ModelOp, type ModelOptions } from '../model.js';

const fs = ['enqueue', 'dequeue'];

function validate(name: string) {
  return (op: Operation): string | undefined => (fs.includes(op.f) ? undefined : `model ${name} has no f ${JSON.stringify(op.f)} (it knows enqueue, dequeue)`);
}

function describeQueueOp(op: ModelOp): string {
  const key = op.key !== undefined ? `[${op.key}] ` : '';
  if (op.f === 'dequeue') return `${key}dequeue -> ${op.known ? show(op.output) : '?'}`;
  return `${key}${op.f} ${show(op.input)}${op.known ? '' : ' ?'}`;
}

const showKey = (k: string) => (k === 'null' ? 'nil' : k);

/**
 * Drops unknown enqueues whose value no ok dequeue returned: in a queue test
 * these are the enqueues that timed out and never committed, and each one
 * left in lets the search try it at every point (in a fifo queue, an element
 * no one dequeues blocks every element behind it: the search must learn, one
 * order at a time, that it never happened).
 *
 * Why the verdict is kept, for both queues and both semantics: take a
 * linearization that places such an enqueue E of v. If an unknown dequeue D
 * took v, drop E and D: every dequeue between them took an element ahead of v
 * (fifo) or other than v, which it still can, and none found the queue empty,
 * since v was in it. If nothing took v, no dequeue after E found the queue
 * empty, and in a fifo queue none took an element behind v (it would have had
 * to take v first); so dropping E changes no dequeue's result. The other way,
 * an unknown op may always never happen.
 */
export function pruneUnseenEnqueues(ops: Operation[]): Operation[] {
  const seen = new Set<string>();
  for (const op of ops) if (op.f === 'dequeue' && op.type === 'ok') seen.add(canonical(op.output));
  return ops.filter((op) => !(op.type === 'info' && op.f === 'enqueue' && !seen.has(canonical(op.input))));
}

// --- FIFO ---------------------------------------------------------------------
//
// A state is a window [start, end) on a buffer that states share: a dequeue
// moves start, an enqueue appends in place when the window ends at the
// buffer's end (no state can see past its own end, so none sees the new
// element), and copies the window otherwise. So a step costs O(1), not a copy
// of the queue. Each buffer keeps polynomial prefix hashes of its elements, so
// a window's hash is O(1) too: h[end] - h[start] * B^(end - start), mod 2^32.

interface Buffer {
  keys: string[];
  values: Value[];
  /** prefix[i]: hash of keys[0..i). */
  prefix: number[];
}

export interface FifoState {
  readonly buf: Buffer;
  readonly start: number;
  readonly end: number;
}

const B = 0x01000193;
const pow: number[] = [1];
function power(n: number): number {
  while (pow.length <= n) pow.push(Math.imul(pow[pow.length - 1], B));
  return pow[n];
}

function windowHash(s: FifoState): number {
  return (s.buf.prefix[s.end] - Math.imul(s.buf.prefix[s.start], power(s.end - s.start))) | 0;
}

function enqueue(s: FifoState, v: Value): FifoState {
  let buf = s.buf;
  let start = s.start;
  if (buf.keys.length !== s.end) {
    buf = { keys: buf.keys.slice(s.start, s.end), values: buf.values.slice(s.start, s.end), prefix: [0] };
    for (const k of buf.keys) buf.prefix.push((Math.imul(buf.prefix[buf.prefix.length - 1], B) + hashString(k)) | 0);
    start = 0;
  }
  const key = canonical(v);
  buf.keys.push(key);
  buf.values.push(v);
  buf.prefix.push((Math.imul(buf.prefix[buf.prefix.length - 1], B) + hashString(key)) | 0);
  return { buf, start, end: buf.keys.length };
}

export function makeFifoQueue(options: ModelOptions = {}): Model<FifoState> {
  const knossos = options.semantics === 'knossos';
  const values = (options.init ?? []) as Value[];
  return {
    name: 'fifo-queue',
    // A fresh buffer per check: the search appends to it in place.
    init: () => values.reduce<FifoState>((s, v) => enqueue(s, v), { buf: { keys: [], values: [], prefix: [0] }, start: 0, end: 0 }),
    step(s, op) {
      if (op.f === 'enqueue') return enqueue(s, knossos && op.known ? op.output : op.input);
      if (op.f !== 'dequeue') return undefined;
      const empty = s.start === s.end;
      if (knossos) {
        const v = op.known ? op.output : op.input;
        return !empty && s.buf.keys[s.start] === canonical(v) ? { buf: s.buf, start: s.start + 1, end: s.end } : undefined;
      }
      if (!op.known) return empty ? s : { buf: s.buf, start: s.start + 1, end: s.end };
      if (op.output === null) return empty ? s : undefined;
      return !empty && s.buf.keys[s.start] === canonical(op.output) ? { buf: s.buf, start: s.start + 1, end: s.end } : undefined;
    },
    equal(a, b) {
      const n = a.end - a.start;
      if (n !== b.end - b.start) return false;
      if (a.buf === b.buf && a.start === b.start) return true;
      for (let i = 0; i < n; i++) if (a.buf.keys[a.start + i] !== b.buf.keys[b.start + i]) return false;
      return true;
    },
    hash: windowHash,
    describeOp: describeQueueOp,
    describeState: (s) => `[${s.buf.keys.slice(s.start, s.end).map(showKey).join(' ')}]`,
    partition: partitionByKey,
    validate: validate('fifo-queue'),
    prune: pruneUnseenEnqueues,
    // An ok dequeue that found the queue empty changes nothing.
    readOnly: knossos ? undefined : (op) => op.f === 'dequeue' && op.type === 'ok' && op.output === null,
  };
}

// --- Unordered ----------------------------------------------------------------
//
// A multiset of elements, kept as sorted canonical JSON. What makes it more
// than that is the unknown dequeue: it took some element present when it took
// effect, and which one only matters later, when an ok dequeue wants a value
// or finds the queue empty. So the choice is deferred: the state is a list of
// segments, elements in the order they arrived, with one unknown removal
// between consecutive segments, which took an element of some earlier segment.
// A removal assignment exists iff (Hall's theorem, nested choices) for every
// removal i, the segments before it hold at least i elements. An ok dequeue of
// v takes v's latest copy (that hurts the fewest removals) and must leave the
// condition true. Where it holds with equality, those removals took exactly
// the elements before them, so that prefix is dropped: the states stay small,
// and an empty queue is always the one empty segment.

export interface UnorderedState {
  /** segments[i] sorted; an unknown removal sits between consecutive segments. */
  readonly segments: readonly (readonly string[])[];
  readonly hash: number;
}

function unordered(segments: (readonly string[])[]): UnorderedState | undefined {
  // Check the condition and drop the prefix up to the last removal where it is tight.
  let before = 0;
  let cut = 0;
  for (let i = 1; i < segments.length; i++) {
    before += segments[i - 1].length;
    if (before < i) return undefined;
    if (before === i) cut = i;
  }
  const segs = cut > 0 ? segments.slice(cut) : segments;
  return { segments: segs, hash: hashString(segs.map((s) => s.join('\u0001')).join('\u0000')) };
}

function insertSorted(seg: readonly string[], key: string): string[] {
  let lo = 0;
  let hi = seg.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (seg[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return [...seg.slice(0, lo), key, ...seg.slice(lo)];
}

const EMPTY: UnorderedState = { segments: [[]], hash: hashString('') };

export function makeUnorderedQueue(options: ModelOptions = {}): Model<UnorderedState> {
  const knossos = options.semantics === 'knossos';
  let initial = EMPTY;
  for (const v of (options.init ?? []) as Value[]) initial = { segments: [insertSorted(initial.segments[0], canonical(v))], hash: 0 };
  initial = unordered([...initial.segments])!;
  const take = (s: UnorderedState, key: string): UnorderedState | undefined => {
    for (let i = s.segments.length - 1; i >= 0; i--) {
      const seg = s.segments[i];
      const at = seg.indexOf(key);
      if (at < 0) continue;
      const segments = [...s.segments];
      segments[i] = [...seg.slice(0, at), ...seg.slice(at + 1)];
      return unordered(segments);
    }
    return undefined;
  };
  const size = (s: UnorderedState) => s.segments.reduce((n, seg) => n + seg.length, 0) - (s.segments.length - 1);
  return {
    name: 'unordered-queue',
    init: () => initial,
    step(s, op) {
      if (op.f === 'enqueue') {
        const segments = [...s.segments];
        const last = segments.length - 1;
        segments[last] = insertSorted(segments[last], canonical(knossos && op.known ? op.output : op.input));
        return unordered(segments);
      }
      if (op.f !== 'dequeue') return undefined;
      if (knossos) return take(s, canonical(op.known ? op.output : op.input));
      if (!op.known) return size(s) === 0 ? s : unordered([...s.segments, []]);
      if (op.output === null) return size(s) === 0 ? s : undefined;
      return take(s, canonical(op.output));
    },
    equal(a, b) {
      if (a.hash !== b.hash || a.segments.length !== b.segments.length) return false;
      for (let i = 0; i < a.segments.length; i++) {
        const x = a.segments[i];
        const y = b.segments[i];
        if (x.length !== y.length) return false;
        for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
      }
      return true;
    },
    hash: (s) => s.hash,
    describeOp: describeQueueOp,
    // "-?" stands for an unknown dequeue that took one of the elements left of it.
    describeState: (s) =>
      `{${s.segments
        .map((seg) => seg.map(showKey).join(' '))
        .join(' -? ')
        .trim()}}`,
    partition: partitionByKey,
    validate: validate('unordered-queue'),
    prune: pruneUnseenEnqueues,
    readOnly: knossos ? undefined : (op) => op.f === 'dequeue' && op.type === 'ok' && op.output === null,
  };
}

export const fifoQueue = makeFifoQueue();
export const unorderedQueue = makeUnorderedQueue();
