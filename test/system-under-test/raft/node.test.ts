import { describe, expect, it } from 'vitest';
import { RaftNode, initialState } from '../../../system-under-test/raft/node.js';
import type { AppendRequest, Message, VoteResponse } from '../../../system-under-test/raft/types.js';
import { InvariantError } from '../../../system-under-test/util/invariant.js';
import { mulberry32 } from '../../../system-under-test/util/prng.js';
import { TestCluster } from './harness.js';

const ABC = ['a', 'b', 'c'];

describe('election', () => {
  it('a single voter elects itself after its randomized timeout and commits alone', () => {
    const c = new TestCluster(['a']);
    c.elect('a');
    const s = c.raft('a').status();
    expect(s.role).toBe('leader');
    expect(s.term).toBe(1);
    const r = c.raft('a').propose('x');
    expect(r.ok).toBe(true);
    c.flush();
    expect(c.commands('a')).toEqual(['x']);
  });

  it('election timeouts are drawn from [e, 2e) ticks', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const n = new RaftNode({ id: 'a', state: initialState(['a', 'b', 'c']), random: mulberry32(seed), electionTicks: 10 });
      let ticks = 0;
      while (n.status().role === 'follower') {
        n.tick();
        ticks++;
      }
      seen.add(ticks);
    }
    expect(Math.min(...seen)).toBe(10);
    expect(Math.max(...seen)).toBe(19);
    expect(seen.size).toBe(10);
  });

  it('elects one leader, which replicates and commits; followers apply the same commands', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    expect(c.raft('b').status()).toMatchObject({ role: 'follower', leader: 'a', term: 1 });
    for (const x of ['p', 'q', 'r']) expect(c.raft('a').propose(x).ok).toBe(true);
    c.deliverAll();
    c.tick(ABC, 2); // a heartbeat carries the commit index to followers
    for (const id of ABC) expect(c.commands(id)).toEqual(['p', 'q', 'r']);
    expect(c.raft('b').propose('z')).toEqual({ ok: false, reason: 'not-leader', leader: 'a' });
  });

  it('a vote is persisted in the same Ready that carries the grant (fsync before answering)', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    for (const id of ['b', 'c']) {
      const rd = c.node(id).readies.find((r) => r.messages.some((m) => m.type === 'voteResp' && (m as VoteResponse).granted));
      expect(rd).toBeDefined();
      expect(rd!.hardState).toMatchObject({ term: 1, vote: 'a' });
      expect(c.node(id).disk.load().hardState.vote).toBe('a');
    }
  });

  it('grants at most one vote per term; the vote-twice bug grants a second', () => {
    for (const bugs of [new Set<string>(), new Set(['vote-twice'])]) {
      const n = new RaftNode({ id: 'c', state: initialState(ABC), random: mulberry32(1), bugs });
      const ask = (from: string): boolean => {
        n.step({ type: 'vote', from, to: 'c', term: 5, lastLogIndex: 0, lastLogTerm: 0 });
        const rd = n.ready();
        n.advance(rd);
        return (rd.messages[0] as VoteResponse).granted;
      };
      expect(ask('a')).toBe(true);
      expect(ask('a')).toBe(true); // a repeated request from the same candidate is fine
      expect(ask('b')).toBe(bugs.size > 0);
    }
  });

  it('rejects a candidate whose log is less up to date', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.raft('a').propose('x');
    c.deliverAll();
    const b = c.raft('b');
    const t = b.status().term;
    c.tick(['b'], 12); // lease expires (b hears nothing more)
    b.step({ type: 'vote', from: 'c', to: 'b', term: t + 1, lastLogIndex: 0, lastLogTerm: 0 });
    const rd = b.ready();
    b.advance(rd);
    expect(rd.messages).toEqual([{ type: 'voteResp', from: 'b', to: 'c', term: t + 1, granted: false }]);
  });

  it('ignores RequestVote while it has heard from a leader within the minimum election timeout', () => {
    const c = new TestCluster(ABC, { electionTicks: 10 });
    c.elect('a');
    const b = c.raft('b');
    const term = b.status().term;
    const vote: Message = { type: 'vote', from: 'c', to: 'b', term: term + 1, lastLogIndex: 99, lastLogTerm: 99 };
    b.step(vote);
    expect(b.hasReady()).toBe(false); // no answer, no term change
    expect(b.status().term).toBe(term);
    c.filter = () => false; // the leader goes silent
    for (let i = 0; i < 9; i++) b.tick();
    b.step(vote);
    expect(b.status().term).toBe(term);
    b.tick(); // 10 ticks without the leader: the lease is over
    // (b may have campaigned itself by now only if its timeout was exactly 10)
    if (b.status().role === 'follower') {
      b.step(vote);
      expect(b.status().term).toBe(term + 1);
      expect(b.status().vote).toBe('c');
    }
  });

  it('a leader that loses touch with a majority steps down (check-quorum)', () => {
    const c = new TestCluster(ABC, { electionTicks: 10 });
    c.elect('a');
    c.filter = (m) => m.from !== 'a' && m.to !== 'a';
    for (let i = 0; i < 9; i++) c.raft('a').tick();
    expect(c.raft('a').status().role).toBe('leader');
    for (let i = 0; i < 11; i++) c.raft('a').tick();
    expect(c.raft('a').status()).toMatchObject({ role: 'follower', leader: null });
  });

  it('a stale leader learns the new term from any reply and steps down', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.filter = (m) => m.from !== 'a' && m.to !== 'a';
    c.tick(['b', 'c'], 25); // b or c takes over in a later term
    const newTerm = Math.max(c.raft('b').status().term, c.raft('c').status().term);
    expect(newTerm).toBeGreaterThan(1);
    c.filter = () => true;
    c.raft('a').propose('lost');
    c.deliverAll();
    expect(c.raft('a').status().role).toBe('follower');
    expect(c.raft('a').status().term).toBe(newTerm);
  });
});

describe('log replication', () => {
  it('only entries of the current term are committed by counting replicas', () => {
    // a holds an entry of term 1 that nobody else has; it becomes leader of term 3.
    const state = {
      hardState: { term: 2, vote: null, commit: 0 },
      snapshot: initialState(ABC).snapshot,
      entries: [{ index: 1, term: 1, kind: 'command' as const, data: 'old' }],
    };
    const a = new RaftNode({ id: 'a', state, random: mulberry32(3) });
    while (a.status().role !== 'candidate') a.tick();
    a.step({ type: 'voteResp', from: 'b', to: 'a', term: 3, granted: true });
    expect(a.status().role).toBe('leader');
    let rd = a.ready();
    a.advance(rd);
    expect(rd.entries.map((e) => [e.index, e.term, e.kind])).toEqual([[2, 3, 'noop']]);
    // b acknowledges only the old entry: a majority holds index 1, but it is of term 1.
    a.step({ type: 'appendResp', from: 'b', to: 'a', term: 3, success: true, matchIndex: 1, rejectedIndex: 0, hint: 0 });
    expect(a.status().commit).toBe(0);
    a.step({ type: 'appendResp', from: 'b', to: 'a', term: 3, success: true, matchIndex: 2, rejectedIndex: 0, hint: 0 });
    expect(a.status().commit).toBe(2); // the term-3 entry commits, and the term-1 one with it
    rd = a.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    a.advance(rd);
  });

  it('a follower rejects an append whose previous entry does not match, then converges', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.filter = (m) => m.to !== 'c';
    for (const x of ['1', '2', '3']) c.raft('a').propose(x);
    c.deliverAll();
    c.filter = () => true;
    c.raft('a').propose('4');
    c.deliverAll();
    const rejects = c
      .node('c')
      .readies.flatMap((r) => r.messages)
      .filter((m) => m.type === 'appendResp' && !m.success);
    expect(rejects.length).toBeGreaterThan(0);
    c.tick(ABC, 2);
    expect(c.commands('c')).toEqual(['1', '2', '3', '4']);
  });

  it('a follower drops a conflicting uncommitted suffix', () => {
    const f = new RaftNode({
      id: 'b',
      state: {
        hardState: { term: 2, vote: null, commit: 1 },
        snapshot: initialState(ABC).snapshot,
        entries: [
          { index: 1, term: 1, kind: 'noop' },
          { index: 2, term: 2, kind: 'command', data: 'stale' },
          { index: 3, term: 2, kind: 'command', data: 'stale2' },
        ],
      },
      random: mulberry32(1),
    });
    const append: AppendRequest = {
      type: 'append',
      from: 'a',
      to: 'b',
      term: 3,
      prevIndex: 1,
      prevTerm: 1,
      entries: [{ index: 2, term: 3, kind: 'command', data: 'new' }],
      commit: 2,
    };
    f.step(append);
    const rd = f.ready();
    f.advance(rd);
    expect(rd.entries).toEqual(append.entries); // the driver truncates from index 2 and appends
    expect(f.status()).toMatchObject({ lastIndex: 2, commit: 2, term: 3, leader: 'a' });
    expect(rd.messages[0]).toMatchObject({ type: 'appendResp', success: true, matchIndex: 2 });
  });

  it('refuses (with an invariant error) a leader whose log contradicts a committed entry', () => {
    const committed = () =>
      new RaftNode({
        id: 'b',
        state: {
          hardState: { term: 2, vote: null, commit: 2 },
          snapshot: initialState(ABC).snapshot,
          entries: [
            { index: 1, term: 1, kind: 'noop' },
            { index: 2, term: 2, kind: 'noop' },
          ],
        },
        random: mulberry32(1),
      });
    expect(() => committed().step({ type: 'append', from: 'a', to: 'b', term: 3, prevIndex: 2, prevTerm: 3, entries: [], commit: 0 })).toThrow(
      /is committed here/,
    );
    expect(() =>
      committed().step({
        type: 'append',
        from: 'a',
        to: 'b',
        term: 3,
        prevIndex: 0,
        prevTerm: 0,
        entries: [
          { index: 1, term: 1, kind: 'noop' },
          { index: 2, term: 3, kind: 'noop' },
        ],
        commit: 0,
      }),
    ).toThrow(InvariantError);
  });

  it('enforces the Ready contract: no step between ready() and advance()', () => {
    const c = new TestCluster(['a']);
    c.elect('a');
    c.raft('a').propose('x');
    const rd = c.raft('a').ready();
    expect(() => c.raft('a').tick()).toThrow(/between ready\(\) and advance\(\)/);
    c.raft('a').advance(rd);
    expect(() => c.raft('a').advance(rd)).toThrow(/without a Ready/);
  });

  it('a leader counts its own entries towards commit only after they are persisted', () => {
    const c = new TestCluster(['a']);
    c.elect('a');
    const a = c.raft('a');
    const before = a.status().commit;
    const p = a.propose('x');
    expect(p.ok).toBe(true);
    expect(a.status().commit).toBe(before);
    const rd = a.ready();
    expect(rd.entries.map((e) => e.kind)).toEqual(['command']);
    a.advance(rd);
    expect(a.status().commit).toBe(before + 1);
  });
});

describe('persistence and restart', () => {
  it('restarts from disk with term, vote and log, and does not vote again in the same term', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.raft('a').propose('x');
    c.deliverAll();
    c.tick(ABC, 2);
    const before = c.raft('b').status();
    const b = c.restart('b');
    const after = b.status();
    expect(after).toMatchObject({ term: before.term, vote: before.vote, lastIndex: before.lastIndex, role: 'follower', leader: null });
    // Committed entries are re-applied from the snapshot on restart.
    c.flush();
    expect(c.commands('b')).toEqual(['x']);
    b.step({ type: 'vote', from: 'c', to: 'b', term: before.term, lastLogIndex: 100, lastLogTerm: 100 });
    const rd = b.ready();
    b.advance(rd);
    expect(rd.messages).toEqual([{ type: 'voteResp', from: 'b', to: 'c', term: before.term, granted: false }]);
  });

  it('a crash before the Ready is written loses the unsent vote, never a sent one', () => {
    const c = new TestCluster(ABC);
    const b = c.raft('b');
    b.step({ type: 'vote', from: 'a', to: 'b', term: 1, lastLogIndex: 0, lastLogTerm: 0 });
    expect(b.status().vote).toBe('a'); // in memory only: no Ready taken yet
    const r = c.restart('b'); // crash: the grant was never sent, so forgetting it is safe
    expect(r.status()).toMatchObject({ term: 0, vote: null });
  });
});

describe('snapshots', () => {
  it('a leader compacts its log and brings a lagging follower up with InstallSnapshot', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.filter = (m) => m.to !== 'c' && m.from !== 'c';
    for (let i = 0; i < 10; i++) c.raft('a').propose(`x${i}`);
    c.deliverAll();
    c.tick(['a', 'b'], 2);
    const a = c.raft('a');
    const applied = a.status().applied;
    const snap = a.compact(applied, 'state-at-' + applied);
    c.node('a').disk.saveSnapshot(snap);
    expect(a.status().firstIndex).toBe(applied + 1);
    c.filter = () => true;
    c.raft('a').propose('after');
    c.tick(ABC, 4);
    const got = c.node('c').readies.find((r) => r.snapshot !== null);
    expect(got?.snapshot).toMatchObject({ index: applied, data: 'state-at-' + applied });
    expect(c.raft('c').status()).toMatchObject({ snapshotIndex: applied, commit: c.raft('a').status().commit });
    expect(c.commands('c')).toEqual(['after']); // only what follows the snapshot is applied as entries
    expect(c.node('c').disk.load().snapshot.index).toBe(applied);
  });

  it('restarts from a compacted disk', () => {
    const c = new TestCluster(['a']);
    c.elect('a');
    for (let i = 0; i < 5; i++) c.raft('a').propose(`x${i}`);
    c.flush();
    const snap = c.raft('a').compact(4, 'S');
    c.node('a').disk.saveSnapshot(snap);
    const r = c.restart('a');
    expect(r.status()).toMatchObject({ snapshotIndex: 4, applied: 4, commit: 6, lastIndex: 6 });
    c.flush();
    expect(c.commands('a')).toEqual(['x3', 'x4']);
  });
});

describe('ReadIndex', () => {
  it('confirms leadership with a heartbeat round before releasing a read', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.raft('a').propose('x');
    c.deliverAll();
    const a = c.raft('a');
    c.filter = () => false;
    expect(a.readIndex('r1')).toEqual({ ok: true });
    c.flush();
    expect(c.node('a').reads).toEqual([]); // no majority has answered yet
    c.filter = () => true;
    a.tick();
    a.tick(); // heartbeat
    c.deliverAll();
    expect(c.node('a').reads).toEqual([{ ctx: 'r1', index: a.status().commit }]);
  });

  it('refuses reads on followers and before the leader committed an entry of its term', () => {
    const c = new TestCluster(ABC);
    expect(c.raft('a').readIndex('r')).toMatchObject({ ok: false, reason: 'not-leader' });
    const a = c.raft('a');
    while (a.status().role !== 'candidate') a.tick();
    c.flush();
    c.queue = [];
    a.step({ type: 'voteResp', from: 'b', to: 'a', term: a.status().term, granted: true });
    expect(a.status().role).toBe('leader');
    expect(a.readIndex('r')).toMatchObject({ ok: false, reason: 'leader-not-ready' });
  });

  it('a single-voter leader serves reads at once', () => {
    const c = new TestCluster(['a']);
    c.elect('a');
    c.flush();
    expect(c.raft('a').readIndex('r')).toEqual({ ok: true });
    c.flush();
    expect(c.node('a').reads).toEqual([{ ctx: 'r', index: 1 }]);
  });
});

describe('membership by joint consensus', () => {
  it('adds servers as learners, promotes them once caught up, then leaves the joint configuration', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    for (let i = 0; i < 5; i++) c.raft('a').propose(`x${i}`);
    c.deliverAll();
    c.add('d');
    c.add('e');
    expect(c.raft('a').changeMembership(['a', 'b', 'c', 'd', 'e'])).toEqual({ ok: true });
    c.tick([...c.nodes.keys()], 10);
    // The configurations the leader went through, in log order.
    const configs = c
      .node('a')
      .readies.flatMap((r) => r.entries)
      .flatMap((e) => (e.kind === 'config' ? [e.config] : []));
    expect(configs).toEqual([
      { voters: ['a', 'b', 'c'], outgoing: [], learners: ['d', 'e'] },
      { voters: ['a', 'b', 'c', 'd', 'e'], outgoing: ['a', 'b', 'c'], learners: [] },
      { voters: ['a', 'b', 'c', 'd', 'e'], outgoing: [], learners: [] },
    ]);
    // The joint entry was appended only after both learners had every committed entry.
    const joint = c
      .node('a')
      .readies.flatMap((r) => r.entries)
      .find((e) => e.kind === 'config' && e.config.outgoing.length > 0)!;
    expect(c.node('e').applied.some((e) => e.index === joint.index - 1)).toBe(true);
    const final = c.raft('a').status();
    expect(final.config).toEqual({ voters: ['a', 'b', 'c', 'd', 'e'], outgoing: [], learners: [] });
    expect(final.configIndex).toBeLessThanOrEqual(final.commit);
    expect(c.commands('e')).toEqual(['x0', 'x1', 'x2', 'x3', 'x4']);
    expect(c.raft('e').status().config).toEqual(final.config);
  });

  it('in C_old,new a decision needs a majority of both sets', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.add('d');
    c.add('e');
    // While the configuration is joint, d and e (two of C_new = {c,d,e}) stay silent:
    // a, b, c are a majority of C_old but only one of C_new.
    const joint = () => c.raft('a').status().config.outgoing.length > 0;
    c.filter = (m) => !(joint() && ['d', 'e'].includes(m.from));
    c.raft('a').changeMembership(['c', 'd', 'e']); // C_old {a,b,c} -> C_new {c,d,e}
    c.tick([...c.nodes.keys()], 10);
    expect(c.raft('a').status().config).toEqual({ voters: ['c', 'd', 'e'], outgoing: ['a', 'b', 'c'], learners: [] });
    const commit = c.raft('a').status().commit;
    expect(c.raft('a').propose('blocked').ok).toBe(true);
    c.tick(['a', 'b', 'c', 'd', 'e'], 3);
    expect(c.raft('a').status().commit).toBe(commit);
    expect(c.raft('b').status().lastIndex).toBe(c.raft('a').status().lastIndex); // replicated on C_old, not committed
    c.filter = () => true;
    c.tick([...c.nodes.keys()], 6);
    expect(c.raft('c').status().commit).toBeGreaterThan(commit + 1);
    expect(c.commands('d')).toEqual(['blocked']);
  });

  it('a leader that is not in C_new steps down once C_new is committed, and the rest elect a leader', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    expect(c.raft('a').changeMembership(['b', 'c'])).toEqual({ ok: true });
    for (let i = 0; i < 10 && c.raft('a').status().role === 'leader'; i++) c.tick(['a']);
    const s = c.raft('a').status();
    expect(s.role).toBe('follower');
    expect(s.config).toEqual({ voters: ['b', 'c'], outgoing: [], learners: [] });
    expect(s.configIndex).toBeLessThanOrEqual(s.commit);
    // a never campaigns again; b or c takes over.
    c.tick(['a', 'b', 'c'], 60);
    expect(c.raft('a').status().role).toBe('follower');
    const leaders = ['b', 'c'].filter((id) => c.raft(id).status().role === 'leader');
    expect(leaders).toHaveLength(1);
    expect(c.raft(leaders[0]).propose('after').ok).toBe(true);
  });

  it('allows one membership change at a time', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.add('d');
    expect(c.raft('a').changeMembership(['a', 'b', 'c', 'd'])).toEqual({ ok: true });
    expect(c.raft('a').changeMembership(['a', 'b'])).toMatchObject({ ok: false, reason: 'membership-change-in-progress' });
    expect(c.raft('b').changeMembership(['a', 'b'])).toMatchObject({ ok: false, reason: 'not-leader' });
  });

  it('a new leader finishes a joint configuration it inherits', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.add('d');
    c.raft('a').changeMembership(['a', 'b', 'c', 'd']);
    for (let i = 0; i < 20 && c.raft('a').status().config.outgoing.length === 0; i++) c.tick([...c.nodes.keys()]);
    // Freeze a right after it appended C_old,new; b takes over (all have the joint entry or will get it).
    c.filter = (m) => m.from !== 'a' && m.to !== 'a';
    const others = ['b', 'c', 'd'];
    for (
      let i = 0;
      i < 80 &&
      !others.some(
        (id) =>
          c.raft(id).status().role === 'leader' &&
          c.raft(id).status().config.outgoing.length === 0 &&
          c.raft(id).status().configIndex <= c.raft(id).status().commit,
      );
      i++
    ) {
      c.tick(others);
    }
    const leader = others.find((id) => c.raft(id).status().role === 'leader');
    expect(leader).toBeDefined();
    expect(c.raft(leader!).status().config).toEqual({ voters: ['a', 'b', 'c', 'd'], outgoing: [], learners: [] });
  });
});
