import { describe, expect, it } from 'vitest';
import { RaftNode, initialState } from '../../../system-under-test/raft/node.js';
import type { Entry, Message, PersistedState } from '../../../system-under-test/raft/types.js';
import { SafetyChecker, SafetyViolation } from '../../../system-under-test/sim/checker.js';
import { SimDisk } from '../../../system-under-test/sim/disk.js';
import { SimNetwork } from '../../../system-under-test/sim/network.js';
import { TraceHash } from '../../../system-under-test/sim/trace.js';
import { mulberry32 } from '../../../system-under-test/util/prng.js';

const ABC = ['a', 'b', 'c'];
const cmd = (index: number, term: number, data: string): Entry => ({ index, term, kind: 'command', data });

function node(id: string, term: number, commit: number, entries: Entry[]): RaftNode {
  const state: PersistedState = { hardState: { term, vote: null, commit }, snapshot: initialState(ABC).snapshot, entries };
  return new RaftNode({ id, state, random: mulberry32(1), electionTicks: 10 });
}

/** Make a node leader of its next term with one granted vote (a 3-node cluster). */
function makeLeader(n: RaftNode): void {
  while (n.status().role !== 'candidate') n.tick();
  const peer = ABC.find((x) => x !== n.id)!;
  n.step({ type: 'voteResp', from: peer, to: n.id, term: n.status().term, granted: true });
  expect(n.status().role).toBe('leader');
}

function violation(f: () => void): SafetyViolation {
  try {
    f();
  } catch (e) {
    if (e instanceof SafetyViolation) return e;
    throw e;
  }
  throw new Error('expected a safety violation');
}

describe('SafetyChecker', () => {
  it('flags two leaders in one term', () => {
    const a = node('a', 4, 0, []);
    const b = node('b', 4, 0, []);
    makeLeader(a);
    makeLeader(b);
    const c = new SafetyChecker(() => [a, b]);
    c.observe(a);
    expect(violation(() => c.observe(b)).property).toBe('election-safety');
  });

  it('flags logs that agree on an (index, term) but not on what precedes it', () => {
    const a = node('a', 2, 0, [cmd(1, 1, 'x'), cmd(2, 2, 'y')]);
    const b = node('b', 2, 0, [cmd(1, 1, 'z'), cmd(2, 2, 'y')]);
    const c = new SafetyChecker(() => [a, b]);
    expect(violation(() => c.checkLogsMatch([a, b])).property).toBe('log-matching');
    const ok = node('b', 2, 0, [cmd(1, 1, 'x'), cmd(2, 2, 'y'), cmd(3, 2, 'w')]);
    expect(() => c.checkLogsMatch([a, ok])).not.toThrow();
  });

  it('flags a persisted entry that contradicts another node’s entry with the same index and term', () => {
    const a = node('a', 1, 0, []);
    const b = node('b', 1, 0, []);
    makeLeader(a);
    makeLeader(b); // (election safety aside) both append a noop at 1 in term 2 ...
    const c = new SafetyChecker(() => [a, b]);
    const rdA = a.ready();
    c.observeReady(a, rdA);
    a.advance(rdA);
    a.propose('x');
    const rdA2 = a.ready();
    c.observeReady(a, rdA2);
    b.propose('y'); // ... and then different commands at 2 in term 2
    expect(violation(() => c.observeReady(b, b.ready())).property).toBe('log-matching');
  });

  it('flags a new leader that lacks a committed entry (leader completeness)', () => {
    const a = node('a', 1, 1, [cmd(1, 1, 'x')]);
    const b = node('b', 1, 0, []);
    const c = new SafetyChecker(() => [a, b]);
    c.observe(a); // index 1 committed in term 1
    makeLeader(b); // term 2 without it
    expect(violation(() => c.observe(b)).property).toBe('leader-completeness');
  });

  it('flags two different entries committed or applied at the same index', () => {
    const a = node('a', 1, 1, [cmd(1, 1, 'x')]);
    const b = node('b', 1, 1, [cmd(1, 1, 'y')]);
    const c = new SafetyChecker(() => [a, b]);
    c.observe(a);
    expect(violation(() => c.observe(b)).property).toBe('state-machine-safety');
    const c2 = new SafetyChecker(() => [a, b]);
    c2.observeReady(a, a.ready());
    expect(violation(() => c2.observeReady(b, b.ready())).property).toMatch(/log-matching|state-machine-safety/);
    const c3 = new SafetyChecker(() => []);
    c3.observeSnapshot('a', { index: 5, term: 1, config: initialState(ABC).snapshot.config, data: '{"v":1}' });
    expect(violation(() => c3.observeSnapshot('b', { index: 5, term: 1, config: initialState(ABC).snapshot.config, data: '{"v":2}' })).property).toBe(
      'state-machine-safety',
    );
  });
});

describe('SimNetwork', () => {
  const msg = (from: string, to: string, term = 1): Message => ({ type: 'heartbeatResp', from, to, term, seq: 0 });

  it('delivers after a delay within bounds, and reorders', () => {
    const net = new SimNetwork<Message>(mulberry32(5), { loss: 0, duplicate: 0, maxDelay: 3 });
    for (let t = 0; t < 50; t++) net.send(0, msg('a', 'b', t));
    const got: number[] = [];
    for (let now = 0; now <= 3; now++) got.push(...net.due(now).map((m) => m.term));
    expect(got.sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(net.pending()).toBe(0);
    const order = (seed: number) => {
      const n = new SimNetwork<Message>(mulberry32(seed), { loss: 0, duplicate: 0, maxDelay: 0 });
      for (let t = 0; t < 20; t++) n.send(0, msg('a', 'b', t));
      return n.due(0).map((m) => m.term);
    };
    expect(order(1)).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(order(1)).toEqual(order(1));
  });

  it('loses and duplicates messages at the configured rates', () => {
    const lossy = new SimNetwork<Message>(mulberry32(2), { loss: 1, duplicate: 0, maxDelay: 0 });
    lossy.send(0, msg('a', 'b'));
    expect(lossy.due(0)).toEqual([]);
    const dup = new SimNetwork<Message>(mulberry32(2), { loss: 0, duplicate: 1, maxDelay: 0 });
    dup.send(0, msg('a', 'b'));
    expect(dup.due(0)).toHaveLength(2);
  });

  it('drops messages across a partition at delivery time, and heals', () => {
    const net = new SimNetwork<Message>(mulberry32(3), { loss: 0, duplicate: 0, maxDelay: 0 });
    net.send(0, msg('a', 'b'));
    net.send(0, msg('b', 'c'));
    net.partition([['a']]);
    expect(net.due(0).map((m) => m.from)).toEqual(['b']);
    expect(net.connected('b', 'c')).toBe(true);
    net.heal();
    net.send(1, msg('a', 'b'));
    expect(net.due(1)).toHaveLength(1);
  });
});

describe('SimDisk', () => {
  it('truncates from the first entry of a Ready, keeps snapshots, and loads what was written', () => {
    const disk = new SimDisk(initialState(ABC));
    const rd = (entries: Entry[], extra: object = {}) => ({
      hardState: null,
      snapshot: null,
      entries,
      committedEntries: [],
      messages: [],
      readStates: [],
      ...extra,
    });
    disk.write(rd([cmd(1, 1, 'a'), cmd(2, 1, 'b'), cmd(3, 1, 'c')], { hardState: { term: 1, vote: 'a', commit: 1 } }));
    disk.write(rd([cmd(2, 2, 'B')]));
    expect(disk.load().entries.map((e) => (e.kind === 'command' ? e.data : ''))).toEqual(['a', 'B']);
    expect(disk.load().hardState).toEqual({ term: 1, vote: 'a', commit: 1 });
    expect(() => disk.write(rd([cmd(5, 2, 'gap')]))).toThrow(/gap/);
    disk.saveSnapshot({ index: 1, term: 1, config: initialState(ABC).snapshot.config, data: 'S' });
    expect(disk.load()).toMatchObject({ snapshot: { index: 1, data: 'S' }, entries: [cmd(2, 2, 'B')] });
    disk.write(rd([], { snapshot: { index: 9, term: 3, config: initialState(ABC).snapshot.config, data: 'T' } }));
    expect(disk.load()).toMatchObject({ snapshot: { index: 9 }, entries: [] });
  });
});

describe('PRNG and trace', () => {
  it('mulberry32 is deterministic per seed and stays in range', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a.int(3, 7));
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.int(3, 7)));
    expect(Math.min(...xs)).toBe(3);
    expect(Math.max(...xs)).toBe(7);
    expect(mulberry32(43).next()).not.toBe(mulberry32(42).next());
    expect(() => a.int(2, 1)).toThrow(RangeError);
  });

  it('the trace hash depends on every event and their order', () => {
    const h = (events: string[]) => {
      const t = new TraceHash();
      events.forEach((e) => t.add(e));
      return t.digest();
    };
    expect(h(['a', 'b'])).toBe(h(['a', 'b']));
    expect(h(['a', 'b'])).not.toBe(h(['b', 'a']));
    expect(h(['ab'])).not.toBe(h(['a', 'b']));
  });
});
