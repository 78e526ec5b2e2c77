import { describe, expect, it } from 'vitest';
import { PacificaReplica, type ReplicaOptions } from '../../../system-under-test/pacifica/replica.js';
import { EMPTY_DISK, type Envelope, type GroupConfig, type Now, type Output, type PMessage } from '../../../system-under-test/pacifica/types.js';
import { PacificaDisk } from '../../../system-under-test/sim/pacifica-disk.js';

const CONFIG: GroupConfig = { version: 1, primary: 'a', secondaries: ['b', 'c'] };
const at = (t: number): Now => ({ mono: t, wall: t });

/** A hand-driven group: outputs are written and their messages queued; the test delivers what it wants. */
class Group {
  readonly replicas = new Map<string, PacificaReplica>();
  readonly disks = new Map<string, PacificaDisk>();
  queue: Envelope[] = [];
  time = 0;

  constructor(
    ids: string[],
    readonly opts: Partial<ReplicaOptions> = {},
  ) {
    for (const id of ids) {
      this.disks.set(id, new PacificaDisk());
      this.start(id, CONFIG);
    }
  }

  start(id: string, initialConfig?: GroupConfig): PacificaReplica {
    const r = new PacificaReplica({
      id,
      group: 'g',
      disk: this.disks.get(id)!.load(),
      initialConfig,
      now: at(this.time),
      lease: 10,
      grace: 15,
      beaconInterval: 3,
      cmRetry: 15,
      checkpointEvery: 1000,
      ...this.opts,
    });
    this.replicas.set(id, r);
    this.drain(id);
    return r;
  }

  /** Write every output of `id`, queue its messages, tell it they are durable. */
  drain(id: string): void {
    const r = this.replicas.get(id)!;
    for (let out: Output | null = r.takeOutput(); out !== null; out = r.takeOutput()) {
      this.queue.push(...out.early);
      this.disks.get(id)!.write(out.persist);
      this.queue.push(...out.messages);
      r.persisted(out, at(this.time));
    }
  }

  /** Deliver queued messages (those matching `keep`) until none is left; drop the others. */
  deliver(keep: (e: Envelope) => boolean = () => true): Envelope[] {
    const seen: Envelope[] = [];
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const e of batch) {
        seen.push(e);
        const r = this.replicas.get(e.to);
        if (r === undefined || !keep(e)) continue;
        r.step(e, at(this.time));
        this.drain(e.to);
      }
    }
    return seen;
  }

  tick(to: number): void {
    for (; this.time < to; ) {
      this.time++;
      for (const [id, r] of this.replicas) {
        r.tick(at(this.time));
        this.drain(id);
      }
    }
  }

  request(id: string, msg: Omit<Extract<PMessage, { kind: 'request' }>, 'kind' | 'group'>): void {
    this.replicas.get(id)!.step({ from: 'client', to: id, msg: { kind: 'request', group: 'g', ...msg } }, at(this.time));
    this.drain(id);
  }
}

const replies = (seen: Envelope[]) => seen.filter((e) => e.to === 'client').map((e) => e.msg as Extract<PMessage, { kind: 'reply' }>);

describe('PacificaReplica', () => {
  it('commits only when every replica acknowledged, then replies; cas fails definitely on another value', () => {
    const g = new Group(['a', 'b', 'c']);
    g.deliver();
    const a = g.replicas.get('a')!;
    expect(a.role()).toBe('primary');
    expect(a.reconciled()).toBe(true);

    g.request('a', { id: 'w1', version: 1, op: { f: 'write', key: 'x', value: 1 } });
    // c never hears: nothing commits, no reply.
    let seen = g.deliver((e) => e.to !== 'c');
    expect(replies(seen)).toEqual([]);
    expect(a.commitSn()).toBe(0);
    // Once c has it too, the write commits and is acknowledged.
    g.tick(3);
    seen = g.deliver();
    expect(replies(seen)).toMatchObject([{ id: 'w1', ok: true, sn: 1 }]);
    expect(a.committedValue('x')).toBe(1);

    g.request('a', { id: 'c1', version: 1, op: { f: 'cas', key: 'x', from: 7, to: 8 } });
    g.request('a', { id: 'p1', version: 1, op: { f: 'append', key: 'l', value: 'u' } });
    seen = g.deliver();
    expect(replies(seen)).toMatchObject([
      { id: 'c1', ok: false, error: 'cas-mismatch' },
      { id: 'p1', ok: true },
    ]);
    // Secondaries apply up to the commit point carried by the next prepare.
    g.tick(6);
    g.deliver();
    expect(g.replicas.get('b')!.committedValue('l')).toEqual(['u']);
    expect(g.replicas.get('c')!.commitSn()).toBe(3);
  });

  it('serves reads only while every lease is valid; on expiry asks the CM to remove the silent secondary', () => {
    const g = new Group(['a', 'b', 'c']);
    g.deliver();
    g.tick(3);
    g.deliver();
    const a = g.replicas.get('a')!;
    expect(a.serving(at(g.time))).toBe(true);
    g.request('a', { id: 'r1', version: 1, op: { f: 'read', key: 'x' } });
    expect(replies(g.deliver())).toMatchObject([{ id: 'r1', ok: true, value: null }]);

    // c goes silent: its lease ends `lease` after the send time of the last prepare it acknowledged (3).
    let cm: Envelope[] = [];
    for (let t = g.time + 1; t <= 14; t++) {
      g.tick(t);
      cm = cm.concat(g.deliver((e) => e.to !== 'c' && e.from !== 'c').filter((e) => e.to === 'cm'));
      expect(a.serving(at(t)), `tick ${t}`).toBe(t < 13);
    }
    g.request('a', { id: 'r2', version: 1, op: { f: 'read', key: 'x' } });
    expect(replies(g.deliver((e) => e.to !== 'c'))).toMatchObject([{ id: 'r2', ok: false, error: 'not-primary' }]);
    expect(cm.map((e) => e.msg)).toEqual([
      { kind: 'cm-reconfigure', group: 'g', rid: expect.any(String), expectedVersion: 1, config: { primary: 'a', secondaries: ['b'] } },
    ]);
  });

  it('a secondary that hears nothing for grace asks to replace the primary, and stops acknowledging it', () => {
    const g = new Group(['a', 'b', 'c']);
    g.deliver();
    g.tick(2);
    g.deliver();
    // a is cut off from everyone; b waits grace (15) after the last prepare it heard.
    let asked: Envelope | undefined;
    for (let t = 3; t <= 20 && asked === undefined; t++) {
      g.tick(t);
      asked = g.deliver((e) => e.from !== 'a' && e.to !== 'a').find((e) => e.from === 'b' && e.to === 'cm');
    }
    expect(asked?.msg).toMatchObject({ kind: 'cm-reconfigure', expectedVersion: 1, config: { primary: 'b', secondaries: ['c'] } });
    expect(g.time).toBe(15);
    // The request is durable before it leaves (the disk says so) ...
    expect(g.disks.get('b')!.load().deposing).toBe(1);
    // ... and a late prepare from a gets no acknowledgement that could renew a's lease.
    g.tick(16);
    const acks = g.deliver((e) => e.to === 'b' || e.from === 'b').filter((e) => e.from === 'b' && e.msg.kind === 'ack');
    expect(acks).toEqual([]);
  });

  it('a new primary brings the secondaries to its log (truncating what is beyond) before it serves', () => {
    const g = new Group(['a', 'b', 'c']);
    g.deliver();
    g.request('a', { id: 'w1', version: 1, op: { f: 'write', key: 'x', value: 1 } });
    g.deliver();
    g.tick(3);
    g.deliver();
    // w2 reaches b and c (unacknowledged: a is gone before their acks), w3 reaches only c.
    g.request('a', { id: 'w2', version: 1, op: { f: 'write', key: 'x', value: 2 } });
    g.request('a', { id: 'w3', version: 1, op: { f: 'write', key: 'x', value: 3 } });
    let n = 0;
    g.deliver((e) => e.msg.kind === 'prepare' && (e.to === 'c' || (e.to === 'b' && n++ === 0)));
    g.replicas.delete('a');
    const b = g.replicas.get('b')!;
    const c = g.replicas.get('c')!;
    expect([b.commitSn(), b.logEnd(), c.logEnd()]).toEqual([1, 2, 3]);
    // The CM made b primary (version 2).
    const v2: GroupConfig = { version: 2, primary: 'b', secondaries: ['c'] };
    b.step({ from: 'cm', to: 'b', msg: { kind: 'cm-config', group: 'g', rid: null, ok: true, config: v2 } }, at(g.time));
    g.drain('b');
    expect(b.role()).toBe('primary');
    expect(b.reconciled()).toBe(false);
    expect(b.serving(at(g.time))).toBe(false);
    g.request('b', { id: 'w4', version: 2, op: { f: 'write', key: 'x', value: 4 } });
    expect(replies(g.deliver((e) => e.to === 'client'))).toMatchObject([{ id: 'w4', ok: false, error: 'not-primary' }]);
    // The reconciling prepare was dropped with the rest; the next beacon round resends it.
    expect(b.reconciled()).toBe(false);
    g.tick(g.time + 3);
    g.deliver();
    // c dropped w3 (beyond b's log, never committed); b committed w2 and now serves.
    expect(c.logEnd()).toBe(2);
    expect(c.entryAt(2)?.id).toBe('w2');
    expect(b.reconciled()).toBe(true);
    expect(b.commitSn()).toBe(2);
    expect(b.serving(at(g.time))).toBe(true);
    expect(b.committedValue('x')).toBe(2);
  });

  it('a restarted primary asks the CM for a fresh version before it serves again', () => {
    const g = new Group(['a', 'b', 'c']);
    g.deliver();
    g.request('a', { id: 'w1', version: 1, op: { f: 'write', key: 'x', value: 1 } });
    g.deliver();
    const a = g.start('a');
    expect(a.role()).toBe('recovering');
    expect(a.committedValue('x')).toBe(1); // from its own disk
    g.tick(g.time + 1);
    const ask = g.deliver().find((e) => e.from === 'a' && e.to === 'cm');
    expect(ask?.msg).toMatchObject({ kind: 'cm-reconfigure', expectedVersion: 1, config: { primary: 'a', secondaries: ['b', 'c'] } });
    const rid = (ask!.msg as Extract<PMessage, { kind: 'cm-reconfigure' }>).rid;
    a.step({ from: 'cm', to: 'a', msg: { kind: 'cm-config', group: 'g', rid, ok: true, config: { ...CONFIG, version: 2 } } }, at(g.time));
    g.drain('a');
    expect(a.role()).toBe('primary');
    g.deliver();
    expect(a.reconciled()).toBe(true);
  });

  it('refuses grace < lease', () => {
    const opts = {
      id: 'a',
      group: 'g',
      disk: EMPTY_DISK,
      initialConfig: CONFIG,
      now: at(0),
      lease: 10,
      grace: 5,
      beaconInterval: 3,
      cmRetry: 10,
      checkpointEvery: 100,
    };
    expect(() => new PacificaReplica(opts)).toThrow(/grace 5 must be >= lease 10/);
    expect(() => new PacificaReplica({ ...opts, grace: 10 })).not.toThrow();
  });
});
