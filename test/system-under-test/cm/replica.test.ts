import { describe, expect, it } from 'vitest';
import { CmReplica } from '../../../system-under-test/cm/replica.js';
import type { CmResult } from '../../../system-under-test/cm/state.js';
import { initialState, joiningState } from '../../../system-under-test/raft/node.js';
import type { Message, NodeId } from '../../../system-under-test/raft/types.js';
import { SimDisk } from '../../../system-under-test/sim/disk.js';
import { mulberry32 } from '../../../system-under-test/util/prng.js';

/** Three CM replicas on a perfect FIFO network, driven exactly as the Ready contract says. */
class Cluster {
  readonly replicas = new Map<NodeId, CmReplica>();
  readonly disks = new Map<NodeId, SimDisk>();
  readonly results = new Map<NodeId, Map<string, CmResult>>();
  readonly reads = new Map<NodeId, string[]>();
  readonly snapshots: NodeId[] = [];
  private queue: Message[] = [];

  constructor(ids: NodeId[]) {
    for (const id of ids) this.add(id, new SimDisk(initialState(ids)));
  }

  add(id: NodeId, disk: SimDisk = new SimDisk(joiningState())): void {
    this.disks.set(id, disk);
    this.replicas.set(id, new CmReplica({ id, state: disk.load(), random: mulberry32(id.charCodeAt(0)), compactEvery: 10 }));
    this.results.set(id, new Map());
    this.reads.set(id, []);
  }

  get(id: NodeId): CmReplica {
    return this.replicas.get(id)!;
  }

  settle(): void {
    for (let guard = 0; guard < 100_000; guard++) {
      let busy = false;
      for (const [id, r] of this.replicas) {
        const rd = r.takeReady();
        if (rd === null) continue;
        busy = true;
        this.disks.get(id)!.write(rd);
        this.queue.push(...rd.messages);
        const out = r.completeReady(rd);
        if (out.snapshotToSave !== null) {
          this.disks.get(id)!.saveSnapshot(out.snapshotToSave);
          this.snapshots.push(id);
        }
        for (const x of out.results) this.results.get(id)!.set(x.id, x.result);
        this.reads.get(id)!.push(...out.reads);
      }
      const m = this.queue.shift();
      if (m !== undefined) {
        busy = true;
        this.replicas.get(m.to)?.step(m);
      }
      if (!busy) return;
    }
    throw new Error('cluster did not settle');
  }

  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const r of this.replicas.values()) r.tick();
      this.settle();
    }
  }

  leader(): CmReplica {
    for (let i = 0; i < 100; i++) {
      const l = [...this.replicas.values()].find((r) => r.raft.status().role === 'leader');
      if (l !== undefined) return l;
      this.tick();
    }
    throw new Error('no leader');
  }
}

describe('CmReplica', () => {
  it('applies proposals on every replica, returns results, serves linearizable reads and compacts', () => {
    const c = new Cluster(['a', 'b', 'c']);
    const l = c.leader();
    const lid = l.raft.id;
    expect(l.submit({ id: 'r1', command: { op: 'registerServer', id: 'd1', address: 'h:1' } }).ok).toBe(true);
    expect(l.submit({ id: 'r2', command: { op: 'registerServer', id: 'd2', address: 'h:2' } }).ok).toBe(true);
    expect(l.submit({ id: 'g', command: { op: 'createGroups', groups: { g1: { primary: 'd1', secondaries: ['d2'] } } } }).ok).toBe(true);
    expect(l.submit({ id: 'x', command: { op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd2', secondaries: [] } } }).ok).toBe(true);
    expect(l.submit({ id: 'y', command: { op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd1', secondaries: [] } } }).ok).toBe(true);
    c.settle();
    c.tick(2);
    expect(c.results.get(lid)!.get('x')).toEqual({ ok: true, group: { version: 2, primary: 'd2', secondaries: [] } });
    expect(c.results.get(lid)!.get('y')).toMatchObject({ ok: false, error: 'version-mismatch' });
    for (const id of ['a', 'b', 'c']) expect(c.get(id).state.group('g1')?.version).toBe(2);

    expect(l.read('q1')).toEqual({ ok: true });
    c.tick(2);
    expect(c.reads.get(lid)).toEqual(['q1']);
    const follower = ['a', 'b', 'c'].find((id) => id !== lid)!;
    expect(c.get(follower).read('q2')).toMatchObject({ ok: false, reason: 'not-leader', leader: lid });

    for (let i = 0; i < 12; i++) l.submit({ id: `m${i}`, command: { op: 'registerMember', id: `n${i}`, address: `h:${i}` } });
    c.tick(2);
    expect(c.snapshots).toContain(lid);
    expect(l.raft.snapshot().index).toBeGreaterThanOrEqual(10);
    expect(JSON.parse(l.raft.snapshot().data).groups.g1.version).toBe(2);
  });

  it('restarts a replica from its disk (snapshot + log) with the same state', () => {
    const c = new Cluster(['a', 'b', 'c']);
    const l = c.leader();
    l.submit({ id: 'r1', command: { op: 'registerServer', id: 'd1', address: 'h:1' } });
    for (let i = 0; i < 15; i++) l.submit({ id: `m${i}`, command: { op: 'registerMember', id: `n${i}`, address: `h:${i}` } });
    c.settle();
    c.tick(2);
    const id = ['a', 'b', 'c'].find((x) => x !== l.raft.id)!;
    const before = c.get(id).state.serialize();
    c.add(id, c.disks.get(id)); // crash + restart from disk
    c.settle();
    expect(c.get(id).state.serialize()).toBe(before);
  });

  it('adds and removes CM members through joint consensus', () => {
    const c = new Cluster(['a', 'b', 'c']);
    const l = c.leader();
    l.submit({ id: 'r1', command: { op: 'registerMember', id: 'd', address: 'h:4' } });
    c.add('d');
    expect(l.addMember('d')).toEqual({ ok: true });
    c.tick(10);
    expect(l.raft.status().config).toEqual({ voters: ['a', 'b', 'c', 'd'], outgoing: [], learners: [] });
    expect(c.get('d').state.members()).toEqual({ voters: ['a', 'b', 'c', 'd'], outgoing: [], learners: [] });
    expect(c.get('d').state.memberAddresses()).toEqual({ d: 'h:4' });
    expect(l.addMember('d')).toMatchObject({ ok: false, reason: 'already-member' });
    expect(l.removeMember('zz')).toMatchObject({ ok: false, reason: 'not-a-member' });
    expect(l.removeMember('d')).toEqual({ ok: true });
    c.tick(10);
    expect(l.raft.status().config.voters).toEqual(['a', 'b', 'c']);
  });
});
