// Test helpers: histories recorded from a simulated linearizable object, and a
// brute-force linearizability oracle that shares no code with the checker.

import fc from 'fast-check';
import type { History, Op, Operation, Value } from '../../../history/types.js';

export type Kind = 'register' | 'cas-register' | 'kv' | 'set' | 'mutex' | 'multi-register' | 'fifo-queue' | 'unordered-queue';

/** Ops whose completion carries a result (the others repeat their argument). */
export const returnsResult = (f: string) => f === 'read' || f === 'get' || f === 'txn' || f === 'dequeue';

/** A sequential object, written independently of the checker's models. */
interface Truth {
  /**
   * `want`: for an unordered dequeue, the element it must take (null: it must
   * find the queue empty); without it the truth picks one.
   */
  apply(f: string, key: string, input: Value, want?: Value): { happened: boolean; output: Value };
}

const NOTHING = '<not in the queue>';

function truthFor(kind: Kind): Truth {
  const store = new Map<string, Value>();
  let picks = 0;
  return {
    apply(f, key, input, want) {
      const cur = store.has(key)
        ? store.get(key)!
        : kind === 'kv'
          ? ''
          : kind === 'set' || kind.endsWith('queue')
            ? []
            : kind === 'mutex'
              ? false
              : kind === 'multi-register'
                ? {}
                : null;
      switch (f) {
        case 'acquire':
          if (cur === true) return { happened: false, output: null };
          store.set(key, true);
          return { happened: true, output: null };
        case 'release':
          if (cur === false) return { happened: false, output: null };
          store.set(key, false);
          return { happened: true, output: null };
        case 'txn': {
          const regs = { ...(cur as Record<string, Value>) };
          const out = (input as [string, string, Value][]).map(([mf, k, v]): Value => {
            if (mf === 'r' || mf === 'read') return [mf, k, Object.hasOwn(regs, k) ? regs[k] : null];
            regs[k] = v;
            return [mf, k, v];
          });
          store.set(key, regs);
          return { happened: true, output: out };
        }
        case 'enqueue':
          store.set(key, [...(cur as Value[]), input]);
          return { happened: true, output: input };
        case 'dequeue': {
          const q = cur as Value[];
          if (want === null || (want === undefined && q.length === 0)) return { happened: true, output: q.length === 0 ? null : NOTHING };
          const at = want !== undefined ? q.indexOf(want) : kind === 'fifo-queue' ? 0 : (picks++ * 7) % q.length;
          if (at < 0) return { happened: true, output: NOTHING };
          store.set(key, [...q.slice(0, at), ...q.slice(at + 1)]);
          return { happened: true, output: q[at] };
        }
        case 'read':
        case 'get':
          return { happened: true, output: cur };
        case 'write':
        case 'put':
          store.set(key, input);
          return { happened: true, output: input };
        case 'append':
          store.set(key, (cur as string) + (input as string));
          return { happened: true, output: input };
        case 'add': {
          const s = cur as number[];
          if (!s.includes(input as number))
            store.set(
              key,
              [...s, input as number].sort((a, b) => a - b),
            );
          return { happened: true, output: input };
        }
        case 'cas': {
          const [from, to] = input as [Value, Value];
          if (cur !== from) return { happened: false, output: input };
          store.set(key, to);
          return { happened: true, output: input };
        }
        default:
          throw new Error(`truth: unknown f ${f}`);
      }
    },
  };
}

function randomOp(kind: Kind, r: () => number): { f: string; input: Value } {
  const small = () => Math.floor(r() * 4);
  switch (kind) {
    case 'register':
      return r() < 0.5 ? { f: 'read', input: null } : { f: 'write', input: small() };
    case 'cas-register': {
      const x = r();
      return x < 0.4 ? { f: 'read', input: null } : x < 0.7 ? { f: 'write', input: small() } : { f: 'cas', input: [small(), small()] };
    }
    case 'kv': {
      const x = r();
      return x < 0.4 ? { f: 'get', input: null } : x < 0.6 ? { f: 'put', input: `v${small()} ` } : { f: 'append', input: `x${small()} ` };
    }
    case 'set':
      return r() < 0.4 ? { f: 'read', input: null } : { f: 'add', input: Math.floor(r() * 20) };
    case 'mutex':
      return { f: r() < 0.5 ? 'acquire' : 'release', input: null };
    case 'multi-register': {
      // Both spellings of micro-ops, Jepsen's and Elle's.
      const n = 1 + Math.floor(r() * 3);
      const txn: Value[] = [];
      for (let i = 0; i < n; i++) {
        const k = r() < 0.5 ? 'x' : 'y';
        const long = r() < 0.5;
        txn.push(r() < 0.5 ? [long ? 'read' : 'r', k, null] : [long ? 'write' : 'w', k, small()]);
      }
      return { f: 'txn', input: txn };
    }
    case 'fifo-queue':
    case 'unordered-queue':
      return r() < 0.5 ? { f: 'dequeue', input: null } : { f: 'enqueue', input: small() };
  }
}

export interface SimOptions {
  kind: Kind;
  processes: number;
  ops: number;
  keys: number;
  /** Probability that a completion is reported as info (unknown). */
  infoRate: number;
}

/**
 * Runs `processes` clients against a linearizable object: each op takes
 * effect atomically at some step between its invocation and its completion
 * (an info op may take effect later, or never). `choices` drives every
 * decision, so fast-check can generate and shrink it.
 */
export function simulate(opts: SimOptions, choices: number[]): History {
  let c = 0;
  const r = () => (choices.length === 0 ? 0.5 : (choices[c++ % choices.length] % 1000) / 1000);
  const truth = truthFor(opts.kind);
  const history: History = [];
  type Pending = { process: number; f: string; key: string; input: Value; applied?: { happened: boolean; output: Value } };
  const pending = new Map<number, Pending>(); // by process
  const ghosts: Pending[] = []; // info ops that may still take effect
  let nextProcess = opts.processes;
  const idle = new Set<number>([...Array(opts.processes).keys()]);
  let invoked = 0;
  let time = 0;
  const emit = (op: Omit<Op, 'index' | 'time'>) => history.push({ ...op, index: history.length, time: (time += 1000) } as Op);

  // The choices repeat cyclically, so a bound on the loop is needed; past it,
  // the remaining ops take effect and complete in turn.
  let rounds = 0;
  const maxRounds = 20 * opts.ops + 100;
  while (invoked < opts.ops || pending.size > 0) {
    const x = ++rounds > maxRounds ? (invoked < opts.ops && idle.size > 0 ? 0 : 0.9) : r();
    if (rounds > maxRounds) for (const o of pending.values()) o.applied ??= truth.apply(o.f, o.key, o.input);
    if (x < 0.35 && invoked < opts.ops && idle.size > 0) {
      const p = [...idle][Math.floor(r() * idle.size)];
      idle.delete(p);
      const { f, input } = randomOp(opts.kind, r);
      const key = String(Math.floor(r() * opts.keys));
      pending.set(p, { process: p, f, key, input });
      emit({ type: 'invoke', f, value: input, process: p, key });
      invoked++;
    } else if (x < 0.65 && pending.size > 0) {
      // Some pending op takes effect now.
      const open = [...pending.values()].filter((o) => !o.applied);
      if (open.length > 0) {
        const o = open[Math.floor(r() * open.length)];
        o.applied = truth.apply(o.f, o.key, o.input);
      }
    } else if (x < 0.7 && ghosts.length > 0) {
      const g = ghosts.splice(Math.floor(r() * ghosts.length), 1)[0];
      if (r() < 0.5) truth.apply(g.f, g.key, g.input); // or it never happens
    } else if (pending.size > 0) {
      const o = [...pending.values()][Math.floor(r() * pending.size)];
      if (!o.applied && r() < 0.5 && rounds <= maxRounds) continue; // not yet: let it take effect first, mostly
      pending.delete(o.process);
      if (r() < opts.infoRate) {
        emit({ type: 'info', f: o.f, value: o.input, process: o.process, key: o.key, error: 'timed-out' });
        if (!o.applied) ghosts.push(o);
        idle.add(nextProcess++); // the process is retired; a fresh one takes its place
      } else if (!o.applied) {
        // It never took effect, and we say so: a definite failure.
        emit({ type: 'fail', f: o.f, value: o.input, process: o.process, key: o.key });
        idle.add(o.process);
      } else {
        const isRead = returnsResult(o.f);
        emit({
          type: o.applied.happened ? 'ok' : 'fail',
          f: o.f,
          value: isRead ? o.applied.output : o.input,
          process: o.process,
          key: o.key,
        });
        idle.add(o.process);
      }
    }
  }
  return history;
}

export const simOptions = (kind: Kind, maxOps = 60) =>
  fc.record({
    kind: fc.constant(kind),
    processes: fc.integer({ min: 1, max: 6 }),
    ops: fc.integer({ min: 1, max: maxOps }),
    keys: fc.integer({ min: 1, max: 3 }),
    infoRate: fc.constantFrom(0, 0.1, 0.3),
  });

export const choicesArb = fc.array(fc.nat({ max: 999 }), { minLength: 1, maxLength: 300 });

/**
 * Brute force: is there an order of the ok ops, plus any subset of the info
 * ops, that respects real time and that the sequential truth accepts? Every
 * order is enumerated (with pruning of prefixes the truth already rejects).
 * For small histories only.
 */
export function bruteForceLinearizable(kind: Kind, ops: Operation[]): boolean {
  const live = ops.filter((o) => o.type !== 'fail');
  const keys = new Set(live.map((o) => String(o.key)));
  // Keys are independent objects; check each alone, as the definition allows.
  for (const key of keys) {
    const part = live.filter((o) => String(o.key) === key);
    if (!orderExists(kind, part)) return false;
  }
  return true;
}

function orderExists(kind: Kind, given: Operation[]): boolean {
  // An unknown dequeue of an unordered queue may have taken any element: it
  // becomes one alternative per value ever enqueued, a known dequeue of that
  // value, of which at most one is placed (`group`). (Taking effect on an empty
  // queue changes nothing, the same as not being placed.)
  const ops: (Operation & { group?: number })[] = [];
  for (const o of given) {
    if (kind === 'unordered-queue' && o.f === 'dequeue' && o.type === 'info') {
      const values = new Set(given.filter((e) => e.f === 'enqueue').map((e) => e.input));
      for (const v of values) ops.push({ ...o, output: v, group: o.id });
    } else ops.push(o);
  }
  const n = ops.length;
  const used = new Array<boolean>(n).fill(false);
  const mustPlace = ops.map((o) => o.type === 'ok');
  const replay = (order: number[]): boolean => {
    const t = truthFor(kind);
    for (const i of order) {
      const o = ops[i];
      const chosen = o.group !== undefined;
      const { happened, output } = t.apply(
        o.f,
        'k',
        o.input,
        kind === 'unordered-queue' && o.f === 'dequeue' && (o.type === 'ok' || chosen) ? o.output : undefined,
      );
      if (o.type === 'info' && !chosen) continue; // any result is fine for an unknown outcome
      if (!happened) return false; // an ok cas (or acquire, release) must have worked
      if (returnsResult(o.f) && JSON.stringify(output) !== JSON.stringify(normalize(kind, o.output))) return false;
    }
    return true;
  };
  const placedGroups = new Set<number>();
  const order: number[] = [];
  const go = (): boolean => {
    if (mustPlace.every((m, i) => !m || used[i])) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      // i can go next only if no unplaced ok op returned before i was invoked.
      let blocked = false;
      for (let j = 0; j < n; j++) {
        if (j !== i && !used[j] && ops[j].completeIndex < ops[i].invokeIndex) blocked = true;
      }
      if (blocked) continue;
      const group = ops[i].group;
      if (group !== undefined && placedGroups.has(group)) continue;
      if (group !== undefined) placedGroups.add(group);
      used[i] = true;
      order.push(i);
      if (replay(order) && go()) return true;
      order.pop();
      used[i] = false;
      if (group !== undefined) placedGroups.delete(group);
    }
    return false;
  };
  return go();
}

function normalize(kind: Kind, v: Value): Value {
  return kind === 'set' && Array.isArray(v) ? [...(v as number[])].sort((a, b) => a - b) : v;
}
