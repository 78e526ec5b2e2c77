// Unit tests of the checker's semantics, budget, counterexamples and errors.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLinearizable, renderText, modelNamed, type Model } from '../../../checkers/linearizability/index.js';
import { InputError } from '../../../history/input-error.js';
import { pairOps } from '../../../history/pair.js';
import { readHistoryFile } from '../../../history/read.js';
import type { History, Op, Value } from '../../../history/types.js';
import { historiesDir } from '../../paths.js';

/** Builds a history from compact rows: [process, type, f, value, key?]. */
function h(rows: [number, Op['type'], string, Value, string?][]): History {
  return rows.map(([process, type, f, value, key], index) => ({ index, time: index * 1000, process, type, f, value, ...(key !== undefined ? { key } : {}) }));
}

const check = (model: string, history: History, opts = {}) => checkLinearizable(modelNamed(model), pairOps(history), opts);

describe('semantics of outcomes', () => {
  it('a sequential stale read is invalid', () => {
    const r = check(
      'register',
      h([
        [0, 'invoke', 'write', 1],
        [0, 'ok', 'write', 1],
        [0, 'invoke', 'write', 2],
        [0, 'ok', 'write', 2],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', 1],
      ]),
    );
    expect(r.verdict).toBe('invalid');
    expect(r.valid).toBe(false);
  });

  it('a read concurrent with a write may see either value', () => {
    for (const seen of [1, 2]) {
      const r = check(
        'register',
        h([
          [0, 'invoke', 'write', 1],
          [0, 'ok', 'write', 1],
          [0, 'invoke', 'write', 2],
          [1, 'invoke', 'read', null],
          [1, 'ok', 'read', seen],
          [0, 'ok', 'write', 2],
        ]),
      );
      expect(r.verdict).toBe('valid');
    }
  });

  it('a failed write did not happen', () => {
    const history = h([
      [0, 'invoke', 'write', 1],
      [0, 'fail', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 1],
    ]);
    expect(check('register', history).verdict).toBe('invalid');
  });

  it('an info write may take effect long after its completion, or never', () => {
    const late = h([
      [0, 'invoke', 'write', 1],
      [0, 'info', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', null],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 1],
    ]);
    expect(check('register', late).verdict).toBe('valid');
    const never = h([
      [0, 'invoke', 'write', 1],
      [0, 'info', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', null],
    ]);
    expect(check('register', never).verdict).toBe('valid');
  });

  it('an info write cannot take effect before it was invoked', () => {
    const r = check(
      'register',
      h([
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', 1],
        [0, 'invoke', 'write', 1],
        [0, 'info', 'write', 1],
      ]),
    );
    expect(r.verdict).toBe('invalid');
  });

  it('a pending invocation counts as info', () => {
    const r = check(
      'register',
      h([
        [0, 'invoke', 'write', 7],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', 7],
      ]),
    );
    expect(r.verdict).toBe('valid');
  });

  it('an ok cas asserts its compare held; a failed one is dropped', () => {
    expect(
      check(
        'cas-register',
        h([
          [0, 'invoke', 'cas', [1, 2]],
          [0, 'ok', 'cas', [1, 2]],
        ]),
      ).verdict,
    ).toBe('invalid');
    expect(
      check(
        'cas-register',
        h([
          [0, 'invoke', 'cas', [1, 2]],
          [0, 'fail', 'cas', [1, 2]],
        ]),
      ).verdict,
    ).toBe('valid');
  });

  it('keys are independent: one key invalid makes the history invalid, and names the key', () => {
    const r = check(
      'cas-register',
      h([
        [0, 'invoke', 'write', 1, 'a'],
        [0, 'ok', 'write', 1, 'a'],
        [1, 'invoke', 'read', null, 'b'],
        [1, 'ok', 'read', 1, 'b'],
      ]),
    );
    expect(r.verdict).toBe('invalid');
    expect(r.partitions).toBe(2);
    expect(r.failures.map((f) => f.key)).toEqual(['b']);
  });

  it('with allParts every failing key is reported', () => {
    const rows: [number, Op['type'], string, Value, string?][] = [];
    for (const k of ['a', 'b', 'c']) rows.push([0, 'invoke', 'read', null, k], [0, 'ok', 'read', 5, k]);
    const all = check('register', h(rows), { allParts: true });
    expect(all.failures.map((f) => f.key).sort()).toEqual(['a', 'b', 'c']);
    const first = check('register', h(rows));
    expect(first.failures.length).toBe(1);
    expect(first.unknownKeys.length).toBe(2);
  });

  it('kv: gets see appends in order', () => {
    const ok = h([
      [0, 'invoke', 'append', 'a', 'k'],
      [0, 'ok', 'append', 'a', 'k'],
      [0, 'invoke', 'append', 'b', 'k'],
      [0, 'ok', 'append', 'b', 'k'],
      [1, 'invoke', 'get', null, 'k'],
      [1, 'ok', 'get', 'ab', 'k'],
    ]);
    expect(check('kv', ok).verdict).toBe('valid');
    const bad = ok.map((op) => (op.index === 5 ? { ...op, value: 'ba' } : op));
    expect(check('kv', bad).verdict).toBe('invalid');
  });

  it('set: a read must show every element added before it', () => {
    const r = check(
      'set',
      h([
        [0, 'invoke', 'add', 1],
        [0, 'ok', 'add', 1],
        [0, 'invoke', 'add', 2],
        [0, 'ok', 'add', 2],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', [2]],
      ]),
    );
    expect(r.verdict).toBe('invalid');
    const ok = check(
      'set',
      h([
        [0, 'invoke', 'add', 1],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', [1]],
        [0, 'ok', 'add', 1],
      ]),
    );
    expect(ok.verdict).toBe('valid');
  });
});

describe('counterexamples', () => {
  it('name the longest prefix, the stuck op and what was tried', () => {
    const r = check(
      'register',
      h([
        [0, 'invoke', 'write', 1],
        [0, 'ok', 'write', 1],
        [0, 'invoke', 'write', 2],
        [0, 'ok', 'write', 2],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', 1],
      ]),
    );
    const ce = r.failures[0];
    expect(ce.prefix.map((s) => s.op.description)).toEqual(['write 1', 'write 2']);
    expect(ce.state).toBe('2');
    expect(ce.stuck?.description).toBe('read -> 1');
    expect(ce.stuck?.process).toBe(1);
    expect(ce.attempts.map((a) => a.outcome)).toEqual(['impossible in state 2']);
    expect(renderText(ce)).toContain('read -> 1');
    expect(renderText(ce)).toContain('cannot be linearized in state 2');
  });

  it('list the ops concurrent with the stuck op', () => {
    const r = check(
      'register',
      h([
        [0, 'invoke', 'write', 1],
        [0, 'ok', 'write', 1],
        [2, 'invoke', 'write', 3],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', 4],
        [2, 'ok', 'write', 3],
      ]),
    );
    const ce = r.failures[0];
    expect(ce.stuck?.description).toBe('read -> 4');
    expect(ce.concurrent.map((o) => o.description)).toContain('write 3');
  });
});

describe('budget', () => {
  it('gives unknown, never a guess, when the budget runs out', async () => {
    // etcd_002 needs tens of thousands of search steps.
    const file = join(historiesDir, 'porcupine-etcd', 'etcd_002.edn');
    const { ops, lines } = await readHistoryFile(file);
    const r = checkLinearizable(modelNamed('cas-register'), pairOps(ops, { file, lines }), { budgetMs: 0.001 });
    expect(r.verdict).toBe('unknown');
    expect(r.valid).toBe('unknown');
    expect(r.unknownKeys).toEqual([null]);
    expect(r.gaveUp).toBe('time');
  });

  it('gives unknown when the cache would outgrow the memory budget', async () => {
    const file = join(historiesDir, 'porcupine-etcd', 'etcd_002.edn');
    const { ops, lines } = await readHistoryFile(file);
    const r = checkLinearizable(modelNamed('cas-register'), pairOps(ops, { file, lines }), { memoryBytes: 64 * 1024 });
    expect(r.verdict).toBe('unknown');
    expect(r.gaveUp).toBe('memory');
    // With room, the same history is decided.
    expect(checkLinearizable(modelNamed('cas-register'), pairOps(ops, { file, lines })).verdict).toBe('valid');
  });

  it('charges states that grow (kv strings) to the memory budget, so the heap stays near it', () => {
    // 18 unknown appends of 4 KB texts, then a read nothing can explain: the
    // search tries every subset of the appends, and each state's string is
    // flattened when the read compares it. Charged only for its cache entry, a
    // 32 MiB budget let such a search grow past 4 GiB of heap (a CI worker died).
    const rows: [number, Op['type'], string, Value, string?][] = [];
    for (let p = 0; p < 18; p++) rows.push([p, 'invoke', 'append', `${String(p).padStart(2, '0')}${'x'.repeat(4094)}`, 'k']);
    for (let p = 0; p < 18; p++) rows.push([p, 'info', 'append', `${String(p).padStart(2, '0')}${'x'.repeat(4094)}`, 'k']);
    rows.push([99, 'invoke', 'get', null, 'k'], [99, 'ok', 'get', 'nothing appended this', 'k']);
    const before = process.memoryUsage().heapUsed;
    const r = check('kv', h(rows), { memoryBytes: 32 * 2 ** 20, budgetMs: 30_000 });
    const grown = process.memoryUsage().heapUsed - before;
    expect(r.verdict).toBe('unknown');
    expect(r.gaveUp).toBe('memory');
    expect(grown).toBeLessThan(256 * 2 ** 20);
  });
});

describe('pruning unknown writes that nothing read', () => {
  // 40 writes with unique values time out on a cut-off primary and are never
  // read; then a stale read. Each of the 40 could have happened anywhere after
  // its call: 2^40 subsets for a search that does not prune them.
  const timedOut = (stale: boolean) => {
    const rows: [number, Op['type'], string, Value][] = [
      [0, 'invoke', 'write', 1],
      [0, 'ok', 'write', 1],
    ];
    for (let p = 1; p <= 40; p++) rows.push([p, 'invoke', 'write', 100 + p]);
    rows.push([0, 'invoke', 'write', 2], [0, 'ok', 'write', 2]);
    for (let p = 1; p <= 40; p++) rows.push([p, 'info', 'write', 100 + p]);
    rows.push([50, 'invoke', 'read', null], [50, 'ok', 'read', stale ? 1 : 2]);
    return h(rows);
  };
  const unpruned: Model<Value> = { ...modelNamed('register'), prune: undefined } as Model<Value>;

  it('decides at once what the unpruned search cannot, with the same verdicts', () => {
    for (const stale of [true, false]) {
      const r = check('register', timedOut(stale), { memoryBytes: 8 * 1024 * 1024 });
      expect(r.verdict).toBe(stale ? 'invalid' : 'valid');
      expect(r.pruned).toBe(40);
      expect(r.searched).toBe(3);
    }
    const slow = checkLinearizable(unpruned, pairOps(timedOut(true)), { memoryBytes: 8 * 1024 * 1024 });
    expect(slow.verdict).toBe('unknown');
    expect(slow.gaveUp).toBe('memory');
  });

  it('keeps an unknown write someone read, and an unknown cas someone compared with', () => {
    const read = h([
      [1, 'invoke', 'write', 7],
      [1, 'info', 'write', 7],
      [0, 'invoke', 'read', null],
      [0, 'ok', 'read', 7],
    ]);
    expect(check('register', read)).toMatchObject({ verdict: 'valid', pruned: 0 });
    // The unknown cas 5 -> 6 is read; the unknown write 5 is compared with by it, so it stays too.
    const chain = h([
      [1, 'invoke', 'write', 5],
      [1, 'info', 'write', 5],
      [2, 'invoke', 'cas', [5, 6]],
      [2, 'info', 'cas', [5, 6]],
      [0, 'invoke', 'read', null],
      [0, 'ok', 'read', 6],
    ]);
    expect(check('cas-register', chain)).toMatchObject({ verdict: 'valid', pruned: 0 });
    // Nothing reads 6: the cas goes, and with it the only comparison with 5, so the write goes too.
    const unread = h([
      [1, 'invoke', 'write', 5],
      [1, 'info', 'write', 5],
      [2, 'invoke', 'cas', [5, 6]],
      [2, 'info', 'cas', [5, 6]],
      [0, 'invoke', 'read', null],
      [0, 'ok', 'read', null],
    ]);
    expect(check('cas-register', unread)).toMatchObject({ verdict: 'valid', pruned: 2 });
  });
});

describe('forced moves: an ok read the state allows is placed at once', () => {
  // 25 clients read 1 while a write of 2 is in flight (a failover: every read waits), then a
  // read after the write completed still sees 1. Placing reads in every order before the write
  // is 2^25 sets for a search that branches on them.
  const manyReads = () => {
    const rows: [number, Op['type'], string, Value][] = [
      [0, 'invoke', 'write', 1],
      [0, 'ok', 'write', 1],
      [1, 'invoke', 'write', 2],
    ];
    for (let p = 2; p < 27; p++) rows.push([p, 'invoke', 'read', null]);
    for (let p = 2; p < 27; p++) rows.push([p, 'ok', 'read', 1]);
    rows.push([1, 'ok', 'write', 2], [30, 'invoke', 'read', null], [30, 'ok', 'read', 1]);
    return h(rows);
  };

  it('decides in a few steps what branching on the reads cannot, with the same verdict', () => {
    const r = check('register', manyReads(), { memoryBytes: 8 * 1024 * 1024 });
    expect(r.verdict).toBe('invalid');
    expect(r.parts[0].steps).toBeLessThan(1000);
    expect(r.failures[0].stuck?.description).toBe('read -> 1');
    // The same model without readOnly branches on every read and runs out of memory.
    const branching = { ...modelNamed('register'), readOnly: undefined } as Model<Value>;
    const slow = checkLinearizable(branching, pairOps(manyReads()), { memoryBytes: 8 * 1024 * 1024 });
    expect(slow.verdict).toBe('unknown');
    expect(slow.gaveUp).toBe('memory');
  });
});

describe('models and bad input', () => {
  it('an unknown model is an InputError naming the known ones', () => {
    expect(() => modelNamed('bogus')).toThrow(InputError);
    try {
      modelNamed('bogus');
    } catch (e) {
      expect((e as InputError).toLine()).toContain('cas-register');
    }
  });

  it('an f the model does not know is an InputError with file and line', () => {
    const history = h([
      [0, 'invoke', 'frob', 1],
      [0, 'ok', 'frob', 1],
    ]);
    const run = () => checkLinearizable(modelNamed('register'), pairOps(history), { source: { file: 'h.jsonl', lineOf: (i) => i + 1 } });
    expect(run).toThrow(InputError);
    try {
      run();
    } catch (e) {
      expect((e as InputError).toLine()).toMatch(/^h\.jsonl:1: .*frob/);
    }
  });

  it('users can bring their own model', () => {
    // A counter: add n, read returns the sum.
    const counter: Model<number> = {
      name: 'counter',
      init: () => 0,
      step: (s, op) => (op.f === 'add' ? s + (op.input as number) : !op.known || op.output === s ? s : undefined),
      equal: (a, b) => a === b,
      describeOp: (op) => `${op.f} ${String(op.input ?? op.output)}`,
      describeState: (s) => String(s),
    };
    const history = h([
      [0, 'invoke', 'add', 2],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 2],
      [0, 'ok', 'add', 2],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 3],
    ]);
    const r = checkLinearizable(counter, pairOps(history));
    expect(r.verdict).toBe('invalid');
    expect(r.failures[0].stuck?.description).toBe('read 3');
  });
});

describe('the Knossos models', () => {
  it('mutex: a second acquire while held is invalid, a release in between makes it valid', () => {
    const twice = h([
      [0, 'invoke', 'acquire', null],
      [0, 'ok', 'acquire', null],
      [1, 'invoke', 'acquire', null],
      [1, 'ok', 'acquire', null],
    ]);
    expect(check('mutex', twice).verdict).toBe('invalid');
    expect(check('mutex', twice).failures[0].state).toBe('held');
    const released = h([
      [0, 'invoke', 'acquire', null],
      [0, 'ok', 'acquire', null],
      [2, 'invoke', 'release', null],
      [1, 'invoke', 'acquire', null],
      [1, 'ok', 'acquire', null],
      [2, 'info', 'release', null],
    ]);
    expect(check('mutex', released).verdict).toBe('valid');
  });

  it('multi-register: a txn is atomic across registers, in both spellings of micro-ops', () => {
    const torn = h([
      [
        0,
        'invoke',
        'txn',
        [
          ['write', 'x', 1],
          ['w', 'y', 1],
        ],
      ],
      [
        0,
        'ok',
        'txn',
        [
          ['write', 'x', 1],
          ['w', 'y', 1],
        ],
      ],
      [
        1,
        'invoke',
        'txn',
        [
          ['r', 'x', null],
          ['read', 'y', null],
        ],
      ],
      [
        1,
        'ok',
        'txn',
        [
          ['r', 'x', 1],
          ['read', 'y', null],
        ],
      ],
    ]);
    const r = check('multi-register', torn);
    expect(r.verdict).toBe('invalid');
    expect(r.failures[0].stuck?.description).toBe('txn r x 1, r y nil');
    expect(r.failures[0].state).toBe('{x 1, y 1}');
    // Knossos's semantics: a read of nil constrains nothing.
    expect(checkLinearizable(modelNamed('multi-register', { semantics: 'knossos' }), pairOps(torn)).verdict).toBe('valid');
  });

  it('queues: fifo order, and an ok dequeue of nil found the queue empty', () => {
    const rows: [number, Op['type'], string, Value][] = [
      [0, 'invoke', 'enqueue', 1],
      [0, 'ok', 'enqueue', 1],
      [0, 'invoke', 'enqueue', 2],
      [0, 'ok', 'enqueue', 2],
      [1, 'invoke', 'dequeue', null],
      [1, 'ok', 'dequeue', 2],
    ];
    expect(check('fifo-queue', h(rows)).verdict).toBe('invalid');
    expect(check('fifo-queue', h(rows)).failures[0].state).toBe('[1 2]');
    expect(check('unordered-queue', h(rows)).verdict).toBe('valid');
    const empty = h([
      [1, 'invoke', 'dequeue', null],
      [1, 'ok', 'dequeue', null],
    ]);
    expect(check('fifo-queue', empty).verdict).toBe('valid');
    expect(check('unordered-queue', empty).verdict).toBe('valid');
    // Knossos: nil is an element, and an empty queue cannot be dequeued.
    expect(checkLinearizable(modelNamed('fifo-queue', { semantics: 'knossos' }), pairOps(empty)).verdict).toBe('invalid');
    expect(checkLinearizable(modelNamed('unordered-queue', { semantics: 'knossos' }), pairOps(empty)).verdict).toBe('invalid');
  });

  it('unordered queue: an unknown dequeue took an element that was there when it took effect', () => {
    // enqueue 0; an unknown dequeue (it took that 0); enqueue 0 again; dequeue 0; dequeue finds it empty.
    const rows: [number, Op['type'], string, Value][] = [
      [0, 'invoke', 'enqueue', 0],
      [0, 'ok', 'enqueue', 0],
      [1, 'invoke', 'dequeue', null],
      [1, 'info', 'dequeue', null],
      [0, 'invoke', 'enqueue', 0],
      [0, 'ok', 'enqueue', 0],
      [2, 'invoke', 'dequeue', null],
      [2, 'ok', 'dequeue', 0],
      [2, 'invoke', 'dequeue', null],
      [2, 'ok', 'dequeue', null],
    ];
    expect(check('unordered-queue', h(rows)).verdict).toBe('valid');
    // Without the unknown dequeue one 0 is left: the last dequeue cannot find the queue empty.
    expect(check('unordered-queue', h([...rows.slice(0, 2), ...rows.slice(4)])).verdict).toBe('invalid');
    // Nor if it was invoked only after the queue was seen empty.
    const late = [...rows.slice(0, 2), ...rows.slice(4), [1, 'invoke', 'dequeue', null], [1, 'info', 'dequeue', null]] as typeof rows;
    expect(check('unordered-queue', h(late)).verdict).toBe('invalid');
  });

  it("--init: the register starts at the given value, as Knossos's (cas-register 0)", () => {
    const read0 = h([
      [0, 'invoke', 'read', null],
      [0, 'ok', 'read', 0],
    ]);
    expect(check('cas-register', read0).verdict).toBe('invalid');
    expect(checkLinearizable(modelNamed('cas-register', { init: 0 }), pairOps(read0)).verdict).toBe('valid');
    expect(
      checkLinearizable(
        modelNamed('multi-register', { init: { x: 0 } }),
        pairOps(
          h([
            [0, 'invoke', 'txn', [['r', 'x', null]]],
            [0, 'ok', 'txn', [['r', 'x', 0]]],
          ]),
        ),
      ).verdict,
    ).toBe('valid');
    expect(
      checkLinearizable(
        modelNamed('fifo-queue', { init: [5] }),
        pairOps(
          h([
            [0, 'invoke', 'dequeue', null],
            [0, 'ok', 'dequeue', 5],
          ]),
        ),
      ).verdict,
    ).toBe('valid');
    expect(() => modelNamed('mutex', { init: 3 })).toThrow(/true \(held\) or false/);
  });

  it('--semantics knossos: an ok read of nil constrains nothing', () => {
    const nilRead = h([
      [0, 'invoke', 'write', 1],
      [0, 'ok', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', null],
    ]);
    expect(check('cas-register', nilRead).verdict).toBe('invalid');
    expect(checkLinearizable(modelNamed('cas-register', { semantics: 'knossos' }), pairOps(nilRead)).verdict).toBe('valid');
  });
});
