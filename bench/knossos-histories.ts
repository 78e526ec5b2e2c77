// Large generated histories for the Knossos models, for bench:checker: clients
// run ops against a linearizable object, each op takes effect at a random
// moment between its invocation and its completion, and a few time out
// (info), having taken effect or not. Seeded, so every run checks the same
// histories.

import type { History, Op, Value } from '../history/types.js';

export interface KnossosBench {
  name: string;
  model: string;
  init?: Value;
  semantics?: 'knossos';
  clients: number;
  history: History;
}

type Apply = (f: string, input: Value) => { ok: boolean; output: Value };

interface Spec {
  name: string;
  /** Clients, when not the default: see the fifo queue. */
  clients?: number;
  model: string;
  init?: Value;
  semantics?: 'knossos';
  next(r: () => number, n: number): { f: string; input: Value };
  object(r: () => number): Apply;
}

const specs: Spec[] = [
  {
    name: 'cas-register (knossos, init 0)',
    model: 'cas-register',
    init: 0,
    semantics: 'knossos',
    next: (r) => {
      const x = r();
      const v = () => Math.floor(r() * 5);
      return x < 0.5 ? { f: 'read', input: null } : x < 0.75 ? { f: 'write', input: v() } : { f: 'cas', input: [v(), v()] };
    },
    object: () => {
      let value: Value = 0;
      return (f, input) => {
        if (f === 'read') return { ok: true, output: value };
        if (f === 'write') return { ok: true, output: (value = input) };
        const [from, to] = input as [Value, Value];
        if (value !== from) return { ok: false, output: input };
        value = to;
        return { ok: true, output: input };
      };
    },
  },
  {
    name: 'mutex',
    model: 'mutex',
    next: (r) => ({ f: r() < 0.5 ? 'acquire' : 'release', input: null }),
    object: () => {
      let held = false;
      return (f) => {
        if ((f === 'acquire') === held) return { ok: false, output: null };
        held = !held;
        return { ok: true, output: null };
      };
    },
  },
  {
    name: 'multi-register',
    model: 'multi-register',
    init: { x: 0, y: 0, z: 0 },
    next: (r) => {
      const txn: Value[] = [];
      for (let i = 0, n = 1 + Math.floor(r() * 3); i < n; i++) {
        const k = ['x', 'y', 'z'][Math.floor(r() * 3)];
        txn.push(r() < 0.6 ? ['read', k, null] : ['write', k, Math.floor(r() * 5)]);
      }
      return { f: 'txn', input: txn };
    },
    object: () => {
      const regs: Record<string, Value> = { x: 0, y: 0, z: 0 };
      return (_f, input) => ({
        ok: true,
        output: (input as [string, string, Value][]).map(([f, k, v]) => (f === 'read' ? [f, k, regs[k]] : ((regs[k] = v), [f, k, v]))),
      });
    },
  },
  ...(['fifo-queue', 'unordered-queue'] as const).map(
    (model): Spec => ({
      name: model === 'fifo-queue' ? 'fifo-queue (2 clients)' : model,
      model,
      // A fifo queue's search is exponential in concurrency: the order of
      // concurrent enqueues is only known when their elements are dequeued,
      // and until then every order is a different state. At 10,000 ops, 2
      // clients take 0.2 s; 3 do not finish in 60 s (nor does Knossos, whose
      // search is the same kind).
      clients: model === 'fifo-queue' ? 2 : undefined,
      // Dequeues a little more often than enqueues, so the queue stays short, as in a
      // Jepsen queue test's steady state: a fifo queue's search is exponential in how
      // long an element waits (concurrent enqueues' order is only known when dequeued).
      next: (r, n) => (r() < 0.45 ? { f: 'enqueue', input: n } : { f: 'dequeue', input: null }),
      object: (r) => {
        const q: Value[] = [];
        return (f, input) => {
          if (f === 'enqueue') return { ok: true, output: (q.push(input), input) };
          if (q.length === 0) return { ok: true, output: null };
          const at = model === 'fifo-queue' ? 0 : Math.floor(r() * q.length);
          return { ok: true, output: q.splice(at, 1)[0] };
        };
      },
    }),
  ),
];

/** `ops` ops by `clients` clients; `infoRate` of them time out. */
export function knossosBenches(ops = 10_000, clients = 10, infoRate = 0.01): KnossosBench[] {
  return specs.map((spec) => {
    let x = 0x2545f491;
    const r = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 0x100000000;
    };
    const apply = spec.object(r);
    const history: History = [];
    const emit = (op: Omit<Op, 'index' | 'time'>) => history.push({ ...op, index: history.length, time: history.length * 1000 } as Op);
    interface Pending {
      process: number;
      f: string;
      input: Value;
      done?: { ok: boolean; output: Value };
    }
    const n = spec.clients ?? clients;
    const slots: (Pending | undefined)[] = new Array(n).fill(undefined);
    const process = Array.from({ length: n }, (_, i) => i);
    let invoked = 0;
    while (invoked < ops || slots.some((s) => s)) {
      const c = Math.floor(r() * n);
      const p = slots[c];
      if (!p) {
        if (invoked >= ops) continue;
        const { f, input } = spec.next(r, invoked++);
        slots[c] = { process: process[c], f, input };
        emit({ type: 'invoke', f, value: input, process: process[c] });
      } else if (!p.done) {
        p.done = apply(p.f, p.input);
      } else {
        slots[c] = undefined;
        if (r() < infoRate) {
          emit({ type: 'info', f: p.f, value: p.input, process: p.process, error: 'timed-out' });
          process[c] += n; // a crashed process is replaced by a fresh one
        } else {
          const result = p.f === 'read' || p.f === 'txn' || p.f === 'dequeue' ? p.done.output : p.input;
          emit({ type: p.done.ok ? 'ok' : 'fail', f: p.f, value: result, process: p.process });
        }
      }
    }
    return { name: spec.name, model: spec.model, init: spec.init, semantics: spec.semantics, clients: n, history };
  });
}
