// The whole reference system in one process and in virtual time: CM nodes
// (CmReplica: Raft and the CM state machine, on SimDisk), data servers
// (PacificaReplica per hosted group, on PacificaDisk), and the client
// library's logic (./kv-client.ts), wired to the protocols as the process
// runtime wires them (runtime/cm-server.ts, runtime/data-server.ts): the same
// tick periods, the same CM requests (get, registerServer, createGroups,
// reconfigure) with the same leader-hunting retries, the same Output
// contract (early messages at once, the rest once the records are durable).
//
// Only the world is simulated, and all of it is driven by ONE seeded PRNG:
// - network: SimNetwork (delay, jitter hence reordering, loss, duplication,
//   partitions as grudges, packet faults on chosen nodes' outgoing messages);
// - clocks: per node a monotonic clock and a wall clock that the clock fault
//   moves (leases must not notice);
// - disks: a data server's records become durable only when its write
//   completes (a random disk latency later). A kill loses the process, not
//   the writes it had issued (the page cache keeps them); a power failure
//   loses every write not yet complete and may tear the one in progress
//   (a seeded prefix of its bytes reaches the disk). The disks hold bytes as
//   the data server lays them out, and a restart recovers them with its
//   recovery code (./replica-files.ts); a log that recovery finds corrupt
//   stops the node, as it stops a real one;
// - processes: kill (memory lost, restart from the disks), power failure,
//   pause (no ticks, input waits in the socket buffer), resume.
//
// Time is an integer count of milliseconds; `step` advances it by one. The
// trace hash covers every delivery and fault, so equal seeds give equal runs.
// After every step the acked-write property (./acked-write.ts) is checked on
// each serving replica; a violation is recorded (`violations`), never acted on.

import { CmReplica } from '../cm/replica.js';
import type { CmCommand, CmResult, GroupConfig, GroupLayout } from '../cm/state.js';
import { initialLayout } from '../pacifica/placement.js';
import { PacificaReplica } from '../pacifica/replica.js';
import type { Envelope, Now, Output, ReplicaDiskState } from '../pacifica/types.js';
import { initialState, joiningState } from '../raft/node.js';
import type { Message, Status } from '../raft/types.js';
import { InvariantError } from '../util/invariant.js';
import { mulberry32, type Prng } from '../util/prng.js';
import { ackedWriteViolation } from './acked-write.js';
import { SimDisk } from './disk.js';
import { DiskCorruptError } from '../runtime/log-segment.js';
import { SimNetwork, type LinkFault } from './network.js';
import { ReplicaFiles, type PlannedWrite } from './replica-files.js';
import { TraceHash } from './trace.js';

export interface WorldOptions {
  readonly seed: number;
  readonly cmNodes: number;
  readonly dataNodes: number;
  readonly groups: number;
  readonly replication: number;
  readonly bugs: ReadonlySet<string>;
  /** The data servers' defaults (runtime/data-server.ts). */
  readonly leaseMs?: number;
  readonly graceMs?: number;
  readonly beaconMs?: number;
  readonly checkpointEvery?: number;
  /** One-way network delay, uniform in [min, max] ms; loss and duplication probabilities. */
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly loss?: number;
  readonly duplicate?: number;
  /** A data server's write completes (durably) up to this long after it is issued. */
  readonly maxDiskMs?: number;
  /** The CM's Raft election timeout in ticks (default 10, runtime/main.ts), heartbeats a fifth of it as the adapter passes them. */
  readonly electionTicks?: number;
}

/** A CM request, as runtime/cm-server.ts takes it. */
export type CmRequest =
  | { readonly op: 'get' }
  | { readonly op: 'registerServer'; readonly id: string; readonly address: string }
  | { readonly op: 'createGroups'; readonly groups: Record<string, GroupLayout> }
  | { readonly op: 'reconfigure'; readonly group: string; readonly expectedVersion: number; readonly config: GroupLayout }
  | { readonly op: 'addMember'; readonly id: string; readonly address: string }
  | { readonly op: 'removeMember'; readonly id: string };

export type CmAnswer =
  | { readonly ok: true; readonly groups?: Readonly<Record<string, GroupConfig>>; readonly group?: GroupConfig }
  | { readonly ok: false; readonly error: string; readonly leader?: string | null; readonly group?: GroupConfig };

/** What travels on the simulated network. */
export type Wire =
  | { readonly kind: 'raft'; readonly from: string; readonly to: string; readonly m: Message }
  | { readonly kind: 'p'; readonly from: string; readonly to: string; readonly env: Envelope }
  | { readonly kind: 'cm-req'; readonly from: string; readonly to: string; readonly rid: number; readonly req: CmRequest }
  | { readonly kind: 'cm-ans'; readonly from: string; readonly to: string; readonly rid: number; readonly ans: CmAnswer };

/** The runtime's periods (runtime/main.ts, cm-server.ts, data-server.ts). */
const CM_TICK_MS = 50;
const DATA_TICK_MS = 20;
const POLL_MS = 150;
const CM_PARK_MS = 3000;

interface Proc {
  readonly id: string;
  readonly role: 'cm' | 'data';
  up: boolean;
  paused: boolean;
  /** Bumped at every kill: timers and answers of an older incarnation are ignored. */
  incarnation: number;
  /** Input that arrived while paused, and timers that came due while paused. */
  inbox: Wire[];
  deferred: (() => void)[];
  readonly monoOffset: number;
  readonly wallBase: number;
  /** The clock fault's offset of the wall clock (ms). */
  clockOffset: number;
}

interface Parked {
  readonly from: string;
  readonly rid: number;
  readonly at: number;
  /** What to do with the proposal's result instead of answering it (addMember's registerMember). */
  readonly then?: (r: CmResult) => void;
}

interface CmProc extends Proc {
  readonly role: 'cm';
  disk: SimDisk;
  replica: CmReplica | null;
  readonly reads: Map<string, Parked>;
  readonly proposals: Map<string, Parked>;
  seq: number;
}

interface Hosted {
  readonly group: string;
  readonly replica: PacificaReplica;
  readonly disk: ReplicaFiles;
  /** Outputs in order; `write`: the I/O of its records (null: none), issued, durable once `durable`. */
  readonly queue: { out: Output; durable: boolean; write: PlannedWrite | null }[];
  /** When the last issued write completes (writes of one log complete in order). */
  writeDoneAt: number;
}

interface DataProc extends Proc {
  readonly role: 'data';
  disks: Map<string, ReplicaFiles>;
  /** What each disk recovered to at this start (taken when the group's replica opens). */
  recovered: Map<string, ReplicaDiskState>;
  /** The open replicas; null until the bootstrap got the CM's state (and while down). */
  hosted: Map<string, Hosted> | null;
  caller: CmCaller | null;
  polling: boolean;
}

export interface WorldStats {
  messages: number;
  dropped: number;
  kills: number;
  restarts: number;
  /** Power failures, the writes they lost (a torn one counted) and how many of those they tore. */
  powerFailures: number;
  lostWrites: number;
  tornWrites: number;
  /** Starts refused because recovery found a disk corrupt (the node stays down). */
  corruptStops: number;
}

/** What a power failure undid on one node. */
export interface PowerLossDone {
  readonly files: readonly string[];
  readonly undoneBytes: number;
  readonly lostWrites: number;
  readonly tornWrites: number;
}

export class World {
  now = 0;
  readonly cmIds: readonly string[];
  readonly dataIds: readonly string[];
  readonly layout: Record<string, GroupLayout>;
  private readonly o: Required<Omit<WorldOptions, 'bugs'>> & { bugs: ReadonlySet<string> };
  private readonly rng: Prng;
  private readonly diskRng: Prng;
  readonly net: SimNetwork<Wire>;
  private readonly hash = new TraceHash();
  private readonly procs = new Map<string, CmProc | DataProc>();
  /** Handlers of addresses outside the cluster (clients): they are never partitioned, killed or paused. */
  private readonly endpoints = new Map<string, (w: Wire) => void>();
  private readonly timers = new Map<number, (() => void)[]>();
  private strobeGeneration = 0;
  /** Protocol invariant failures: each stopped its node (fail-stop, as the runtime's guard does). */
  readonly fatals: { node: string; at: number; message: string }[] = [];
  /** Client operations finished so far (the driver then lets their promises settle). */
  clientOutcomes = 0;
  readonly stats: WorldStats = { messages: 0, dropped: 0, kills: 0, restarts: 0, powerFailures: 0, lostWrites: 0, tornWrites: 0, corruptStops: 0 };
  /** Nodes whose start recovery refused (a corrupt disk), with why: not a protocol failure, the node's own check. */
  readonly diskStops: { node: string; at: number; message: string }[] = [];
  /**
   * White-box property violations (./acked-write.ts): only recorded, the node
   * goes on (the world runs exactly as without the check). At most one per
   * replica instance (a restarted replica is another).
   */
  readonly violations: { node: string; group: string; at: number; property: 'acked-write'; message: string }[] = [];
  /** Per group, the updates its replies acknowledged to clients (a reply with an sn that reached its client). */
  private readonly acked = new Map<string, { max: number; ids: Map<number, string> }>();
  /** Per serving replica, the serial number up to which its entries were compared with the acknowledged ones. */
  private readonly ackChecked = new WeakMap<PacificaReplica, number>();
  private readonly violated = new WeakSet<PacificaReplica>();

  constructor(opts: WorldOptions) {
    this.o = {
      leaseMs: 1000,
      graceMs: 1500,
      beaconMs: 200,
      checkpointEvery: 5000,
      minDelayMs: 1,
      maxDelayMs: 4,
      loss: 0.001,
      duplicate: 0.001,
      maxDiskMs: 3,
      electionTicks: 10,
      ...opts,
    };
    this.rng = mulberry32(opts.seed);
    this.net = new SimNetwork<Wire>(this.rng.fork(), {
      loss: this.o.loss,
      duplicate: this.o.duplicate,
      minDelay: this.o.minDelayMs,
      maxDelay: this.o.maxDelayMs,
    });
    this.diskRng = this.rng.fork();
    this.cmIds = Array.from({ length: opts.cmNodes }, (_, i) => `n${i + 1}`);
    this.dataIds = Array.from({ length: opts.dataNodes }, (_, i) => `d${i + 1}`);
    this.layout = initialLayout(this.dataIds, opts.groups, opts.replication);
    const base = () => ({
      up: false,
      paused: false,
      incarnation: 0,
      inbox: [],
      deferred: [],
      monoOffset: this.rng.int(0, 1_000_000),
      wallBase: 1_700_000_000_000 + this.rng.int(0, 1000),
      clockOffset: 0,
    });
    for (const id of this.cmIds) {
      const p: CmProc = {
        ...base(),
        id,
        role: 'cm',
        disk: new SimDisk(initialState(this.cmIds)),
        replica: null,
        reads: new Map(),
        proposals: new Map(),
        seq: 0,
      };
      this.procs.set(id, p);
    }
    for (const id of this.dataIds) {
      const p: DataProc = { ...base(), id, role: 'data', disks: new Map(), recovered: new Map(), hosted: null, caller: null, polling: false };
      this.procs.set(id, p);
    }
    for (const id of this.procs.keys()) this.start(id);
  }

  // ------------------------------------------------------------ time

  /** A timer at `t` (ms); timers of one instant run in the order they were set. */
  at(t: number, f: () => void): void {
    const when = Math.max(t, this.now + 1);
    const list = this.timers.get(when);
    if (list === undefined) this.timers.set(when, [f]);
    else list.push(f);
  }

  /** A timer of one process: dropped if it was killed since, held while it is paused. */
  private procAt(p: Proc, t: number, f: () => void): void {
    const inc = p.incarnation;
    const run = (): void => {
      if (!p.up || p.incarnation !== inc) return;
      if (p.paused) p.deferred.push(run);
      else this.guard(p, f);
    };
    this.at(t, run);
  }

  /** Run an input handler of `p`; a protocol invariant failure stops the node, as runtime/*-server.ts's guard does. */
  private guard(p: Proc, f: () => void): void {
    try {
      f();
    } catch (e) {
      if (!(e instanceof InvariantError)) throw e;
      this.fatals.push({ node: p.id, at: this.now, message: e.message });
      this.note(`fatal ${p.id} ${e.message}`);
      this.kill(p.id);
    }
  }

  /** One millisecond: timers due now, then messages due now. */
  step(): void {
    this.now++;
    const list = this.timers.get(this.now);
    if (list !== undefined) {
      // Timers set for now while these run are appended to the same list and run too.
      for (let i = 0; i < list.length; i++) list[i]();
      this.timers.delete(this.now);
    }
    for (const w of this.net.due(this.now)) this.deliver(w);
    this.checkAckedWrites();
  }

  /** acked-write on every replica that serves (up, not paused, serving by its clock): recorded, never acted on. */
  private checkAckedWrites(): void {
    for (const id of this.dataIds) {
      const p = this.procs.get(id) as DataProc;
      if (!p.up || p.paused || p.hosted === null) continue;
      for (const h of p.hosted.values()) {
        const r = h.replica;
        if (this.violated.has(r) || !r.serving(this.clock(p))) continue;
        const acked = this.acked.get(h.group);
        if (acked === undefined) continue;
        const broken = ackedWriteViolation(p.id, r, acked, this.ackChecked.get(r) ?? 0);
        if (broken === null) {
          this.ackChecked.set(r, r.commitSn());
          continue;
        }
        this.violated.add(r);
        this.violations.push({ node: p.id, group: h.group, at: this.now, property: 'acked-write', message: `${h.group}: ${broken}` });
      }
    }
  }

  /** A reply naming an update's sn reached its client: acknowledged. Replicas compared past it compare it again. */
  private acknowledged(group: string, sn: number, id: string): void {
    let a = this.acked.get(group);
    if (a === undefined) this.acked.set(group, (a = { max: 0, ids: new Map() }));
    a.ids.set(sn, id);
    a.max = Math.max(a.max, sn);
    for (const d of this.dataIds) {
      const r = (this.procs.get(d) as DataProc).hosted?.get(group)?.replica;
      if (r !== undefined && (this.ackChecked.get(r) ?? 0) >= sn) this.ackChecked.set(r, sn - 1);
    }
  }

  clock(p: Proc): Now {
    return { mono: this.now + p.monoOffset, wall: this.now + p.wallBase + p.clockOffset };
  }

  trace(): string {
    return this.hash.digest();
  }

  private note(event: string): void {
    this.hash.add(`${this.now} ${event}`);
  }

  // ------------------------------------------------------------ the network

  send(w: Wire): void {
    this.stats.messages++;
    // Requests and answers (clients', the CM's) ride on TCP in the runtime: never delivered twice, or an
    // operation could apply twice and be answered by its second, refused copy (a false alarm). Peer traffic
    // may be, as the protocols must take it (and the PacificA simulation does the same).
    const rpc = w.kind === 'cm-req' || w.kind === 'cm-ans' || (w.kind === 'p' && (w.env.msg.kind === 'request' || w.env.msg.kind === 'reply'));
    this.net.send(this.now, w, !rpc);
  }

  /** Messages to `id` (a client) go to `handler`. */
  endpoint(id: string, handler: (w: Wire) => void): void {
    this.endpoints.set(id, handler);
  }

  dropEndpoint(id: string): void {
    this.endpoints.delete(id);
  }

  private deliver(w: Wire): void {
    const p = this.procs.get(w.to);
    if (p === undefined) {
      const handler = this.endpoints.get(w.to);
      if (handler === undefined) return;
      if (w.kind === 'p' && w.env.msg.kind === 'reply' && w.env.msg.sn !== undefined) this.acknowledged(w.env.msg.group, w.env.msg.sn, w.env.msg.id);
      handler(w);
      return;
    }
    if (!p.up) {
      this.stats.dropped++;
      return;
    }
    if (p.paused) {
      p.inbox.push(w);
      return;
    }
    this.hash.add(`${this.now} ${w.from}>${w.to} ${w.kind === 'raft' ? w.m.type : w.kind === 'p' ? w.env.msg.kind : w.kind}`);
    this.guard(p, () => (p.role === 'cm' ? this.cmInput(p, w) : this.dataInput(p, w)));
  }

  // ------------------------------------------------------------ processes and faults

  /** A connection to `id` would be refused now: its process is down (a partition makes no refusal, only silence). */
  refuses(id: string): boolean {
    const p = this.procs.get(id);
    return p !== undefined && !p.up && this.net.connected('client', id);
  }

  isRunning(id: string): boolean {
    return this.proc(id).up;
  }

  private proc(id: string): CmProc | DataProc {
    const p = this.procs.get(id);
    if (p === undefined) throw new Error(`no node ${id}`);
    return p;
  }

  /** kill -9: the process and its memory are lost; the writes it had issued reach the disk (the page cache keeps them). */
  kill(id: string): void {
    const p = this.proc(id);
    if (!p.up) return;
    if (p.role === 'data') for (const h of p.hosted?.values() ?? []) for (const e of h.queue) if (!e.durable && e.write !== null) h.disk.apply(e.write);
    this.stop(p);
    this.stats.kills++;
    this.note(`kill ${id}`);
  }

  /**
   * A power failure: the process dies and every write not yet complete is
   * lost, except that the one in progress on each disk (writes of one log
   * complete in order) may be torn: a seeded prefix of its bytes stays. A CM
   * node loses nothing (its Raft writes are synchronous, durable before any
   * message of theirs leaves).
   */
  powerFail(id: string): PowerLossDone {
    const p = this.proc(id);
    const files = new Set<string>();
    let undoneBytes = 0;
    let lost = 0;
    let torn = 0;
    if (p.up && p.role === 'data')
      for (const h of p.hosted?.values() ?? []) {
        let first = true;
        for (const e of h.queue) {
          if (e.durable || e.write === null) continue;
          lost++;
          files.add(h.disk.logName);
          const keep = first ? this.diskRng.int(0, e.write.bytes - 1) : 0;
          if (keep > 0) {
            h.disk.apply(e.write, keep);
            torn++;
          }
          undoneBytes += e.write.bytes - keep;
          first = false;
        }
      }
    if (p.up) {
      this.stop(p);
      this.stats.powerFailures++;
      this.stats.lostWrites += lost;
      this.stats.tornWrites += torn;
    }
    this.note(`power-fail ${id} ${lost} ${torn} ${undoneBytes}`);
    return { files: [...files].sort(), undoneBytes, lostWrites: lost, tornWrites: torn };
  }

  private stop(p: CmProc | DataProc): void {
    p.up = false;
    p.paused = false;
    p.incarnation++;
    p.inbox = [];
    p.deferred = [];
    if (p.role === 'cm') {
      p.replica = null;
      p.reads.clear();
      p.proposals.clear();
    } else {
      p.hosted = null;
      p.recovered = new Map();
      p.caller = null;
      p.polling = false;
    }
  }

  start(id: string): void {
    const p = this.proc(id);
    if (p.up) return;
    p.up = true;
    if (this.now > 0) this.stats.restarts++;
    this.note(`start ${id}`);
    this.guard(p, () => (p.role === 'cm' ? this.startCm(p) : this.startData(p)));
  }

  /**
   * A node's files (a data server's replica logs and checkpoints; a CM node's
   * Raft disk is not held as bytes: none), for the corrupt fault, which
   * changes them only while the node is stopped.
   */
  files(id: string): { list(): { name: string; size: number }[]; read(name: string): Uint8Array; replace(name: string, bytes: Uint8Array): void } {
    const p = this.proc(id);
    const disks = p.role === 'data' ? [...p.disks.values()].sort((a, b) => a.group.localeCompare(b.group)) : [];
    const owner = (name: string): ReplicaFiles => {
      const d = disks.find((x) => x.logName === name || x.checkpointName === name);
      if (d === undefined) throw new Error(`${id} has no file ${name}`);
      return d;
    };
    return {
      list: () => disks.flatMap((d) => d.files()),
      read: (name) => owner(name).read(name),
      replace: (name, bytes) => {
        if (p.up) throw new Error(`${id} is running: its files change only while it is stopped`);
        owner(name).replace(name, bytes);
        this.note(`corrupt ${id} ${name} ${bytes.length}`);
      },
    };
  }

  /**
   * Starts a stopped node on empty disks, as a replacement server would; a
   * CM node with `join` waits to be added (runtime/main.ts's --join), without
   * it bootstraps with the founding voters.
   */
  startFresh(id: string, join: boolean): void {
    const p = this.proc(id);
    if (p.up) throw new Error(`${id} is running: it cannot start fresh`);
    if (p.role === 'cm') p.disk = new SimDisk(join ? joiningState() : initialState(this.cmIds));
    else p.disks = new Map();
    this.note(`fresh ${id}${join ? ' join' : ''}`);
    this.start(id);
  }

  /** What a status request to a CM node would answer now: null when it is down or paused (no answer). */
  cmStatus(id: string): Status | null {
    const p = this.proc(id);
    if (p.role !== 'cm' || !p.up || p.paused || p.replica === null) return null;
    return p.replica.raft.status();
  }

  pause(id: string): void {
    const p = this.proc(id);
    if (!p.up || p.paused) return;
    p.paused = true;
    this.note(`pause ${id}`);
  }

  resume(id: string): void {
    const p = this.proc(id);
    if (!p.paused) return;
    p.paused = false;
    this.note(`resume ${id}`);
    const timers = p.deferred;
    const inbox = p.inbox;
    p.deferred = [];
    p.inbox = [];
    for (const f of timers) f();
    for (const w of inbox) if (p.up && !p.paused) this.deliver(w);
  }

  /** The wall clock of `id` set `offsetMs` from the true time (0: back to it). Its monotonic clock never moves. */
  setClockOffset(id: string, offsetMs: number): void {
    const p = this.proc(id);
    p.clockOffset = offsetMs;
    this.note(`clock ${id} ${offsetMs}`);
  }

  /** Flip the wall clocks of `ids` between +delta and 0 every period, for `duration` ms or until the next strobe or reset. */
  strobeClocks(ids: readonly string[], deltaMs: number, periodMs: number, durationMs: number): void {
    const generation = ++this.strobeGeneration;
    const end = this.now + durationMs;
    const flip = (up: boolean): void => {
      if (generation !== this.strobeGeneration || this.now >= end) return;
      for (const id of ids) this.setClockOffset(id, up ? deltaMs : 0);
      this.at(this.now + periodMs, () => flip(!up));
    };
    flip(true);
  }

  stopStrobe(): void {
    this.strobeGeneration++;
  }

  partition(grudge: Readonly<Record<string, readonly string[]>>): void {
    this.net.setGrudge(grudge);
    this.note(`partition ${JSON.stringify(grudge)}`);
  }

  heal(): void {
    this.net.heal();
    this.note('heal');
  }

  packet(ids: readonly string[], fault: LinkFault): void {
    this.net.setLinkFault(ids, fault);
    this.note(`packet ${ids.join(',')} ${JSON.stringify(fault)}`);
  }

  clearPacket(): void {
    this.net.clearLinkFaults();
    this.note('packet-clear');
  }

  // ------------------------------------------------------------ what the harness's view asks

  /** The CM leader a status request would find now: a running node that leads, the highest term if several think so. */
  leader(): string | null {
    let best: { id: string; term: number } | null = null;
    for (const id of this.cmIds) {
      const p = this.procs.get(id) as CmProc;
      if (!p.up || p.paused || p.replica === null) continue;
      const st = p.replica.raft.status();
      if (st.role === 'leader' && (best === null || st.term > best.term)) best = { id, term: st.term };
    }
    return best?.id ?? null;
  }

  /** Every group's configuration as the CM leader has applied it; null without a leader. */
  groups(): Readonly<Record<string, GroupConfig>> | null {
    const l = this.leader();
    if (l === null) return null;
    return (this.procs.get(l) as CmProc).replica!.state.groups();
  }

  /** Every data server has opened its replicas (the bootstrap is over). */
  ready(): boolean {
    return this.dataIds.every((id) => (this.procs.get(id) as DataProc).hosted !== null) && this.groups() !== null;
  }

  // ------------------------------------------------------------ CM nodes (runtime/cm-server.ts)

  private startCm(p: CmProc): void {
    p.replica = new CmReplica({
      id: p.id,
      state: p.disk.load(),
      random: this.rng.fork(),
      electionTicks: this.o.electionTicks,
      heartbeatTicks: Math.max(1, Math.floor(this.o.electionTicks / 5)),
      bugs: this.o.bugs,
    });
    const tick = (): void => {
      p.replica!.tick();
      this.cmReady(p);
      // Parked requests whose answer never came (lost leadership): the runtime answers them timeout.
      for (const map of [p.reads, p.proposals])
        for (const [k, w] of map)
          if (this.now - w.at >= CM_PARK_MS) {
            map.delete(k);
            this.send({ kind: 'cm-ans', from: p.id, to: w.from, rid: w.rid, ans: { ok: false, error: 'timeout' } });
          }
      this.procAt(p, this.now + CM_TICK_MS, tick);
    };
    this.procAt(p, this.now + this.rng.int(1, CM_TICK_MS), tick);
  }

  private cmInput(p: CmProc, w: Wire): void {
    const r = p.replica!;
    if (w.kind === 'raft') {
      r.step(w.m);
      this.cmReady(p);
      return;
    }
    if (w.kind !== 'cm-req') return;
    const answer = (ans: CmAnswer): void => this.send({ kind: 'cm-ans', from: p.id, to: w.from, rid: w.rid, ans });
    const st = r.raft.status();
    if (st.role !== 'leader') return answer({ ok: false, error: 'not-leader', leader: st.leader });
    const ctx = `${p.id}:${p.incarnation}:${p.seq++}`;
    const parked = { from: w.from, rid: w.rid, at: this.now };
    if (w.req.op === 'get') {
      const res = r.read(ctx);
      if (!res.ok) return answer({ ok: false, error: res.reason, leader: null });
      p.reads.set(ctx, parked);
    } else if (w.req.op === 'removeMember') {
      const c = r.removeMember(w.req.id);
      this.cmReady(p);
      return answer(c.ok ? { ok: true } : { ok: false, error: c.reason });
    } else if (w.req.op === 'addMember') {
      // As runtime/cm-server.ts: first make the address known to every member, then start the change.
      const id = w.req.id;
      const res = r.submit({ id: ctx, command: { op: 'registerMember', id, address: w.req.address } });
      if (!res.ok) return answer({ ok: false, error: res.reason, leader: res.leader });
      p.proposals.set(ctx, {
        ...parked,
        then: (result) => {
          if (!result.ok) return answer(answerOf(result));
          const c = p.replica!.addMember(id);
          this.cmReady(p);
          answer(c.ok ? { ok: true } : { ok: false, error: c.reason });
        },
      });
    } else {
      const command: CmCommand = w.req;
      const res = r.submit({ id: ctx, command });
      if (!res.ok) return answer({ ok: false, error: res.reason, leader: res.leader });
      p.proposals.set(ctx, parked);
    }
    this.cmReady(p);
  }

  /** The Raft Ready contract: persist, send, apply; answer what was applied or confirmed. */
  private cmReady(p: CmProc): void {
    const r = p.replica!;
    for (let rd = r.takeReady(); rd !== null; rd = r.takeReady()) {
      p.disk.write(rd);
      for (const m of rd.messages) this.send({ kind: 'raft', from: m.from, to: m.to, m });
      const out = r.completeReady(rd);
      if (out.snapshotToSave !== null) p.disk.saveSnapshot(out.snapshotToSave);
      for (const { id, result } of out.results) {
        const w = p.proposals.get(id);
        if (w === undefined) continue;
        p.proposals.delete(id);
        if (w.then !== undefined) w.then(result);
        else this.send({ kind: 'cm-ans', from: p.id, to: w.from, rid: w.rid, ans: answerOf(result) });
      }
      for (const ctx of out.reads) {
        const w = p.reads.get(ctx);
        if (w === undefined) continue;
        p.reads.delete(ctx);
        this.send({ kind: 'cm-ans', from: p.id, to: w.from, rid: w.rid, ans: { ok: true, groups: r.state.groups() } });
      }
    }
  }

  // ------------------------------------------------------------ data servers (runtime/data-server.ts)

  private startData(p: DataProc): void {
    // Open (recover) the storage first, as the data server does: a log that cannot be read stops the node before it registers.
    try {
      p.recovered = new Map([...p.disks].map(([g, d]) => [g, d.load()]));
    } catch (e) {
      if (!(e instanceof DiskCorruptError)) throw e;
      this.stats.corruptStops++;
      this.diskStops.push({ node: p.id, at: this.now, message: e.message });
      this.note(`disk-corrupt ${p.id}`);
      this.stop(p);
      return;
    }
    const caller = new CmCaller(this, p.id, this.cmIds, (t, f) => this.procAt(p, t, f));
    p.caller = caller;
    // The bootstrap: register, create the layout (the first server wins, the others get group-exists), get, open.
    const retry = (req: CmRequest, done: (a: CmAnswer) => boolean, then: (a: CmAnswer) => void): void => {
      caller.request(req, 2000, (a) => {
        if (a !== null && done(a)) then(a);
        else this.procAt(p, this.now + 100, () => retry(req, done, then));
      });
    };
    retry(
      { op: 'registerServer', id: p.id, address: p.id },
      (a) => a.ok,
      () =>
        retry(
          { op: 'createGroups', groups: this.layout },
          (a) => a.ok || a.error === 'group-exists',
          () =>
            retry(
              { op: 'get' },
              (a) => a.ok,
              (a) => {
                p.hosted = new Map();
                this.onCmState(p, a.ok ? (a.groups ?? {}) : {}, true);
                const tick = (): void => {
                  this.dataTick(p);
                  this.procAt(p, this.now + DATA_TICK_MS, tick);
                };
                this.procAt(p, this.now + this.rng.int(1, DATA_TICK_MS), tick);
                const poll = (): void => {
                  this.poll(p);
                  this.procAt(p, this.now + POLL_MS, poll);
                };
                this.procAt(p, this.now + POLL_MS, poll);
              },
            ),
        ),
    );
  }

  private poll(p: DataProc): void {
    if (p.polling) return;
    p.polling = true;
    const inc = p.incarnation;
    p.caller!.request({ op: 'get' }, 2000, (a) => {
      if (p.incarnation !== inc) return;
      p.polling = false;
      if (a !== null && a.ok && a.groups !== undefined) this.onCmState(p, a.groups, false);
    });
  }

  /** Open replicas for groups this server belongs to; feed newer configurations to the open ones. */
  private onCmState(p: DataProc, groups: Readonly<Record<string, GroupConfig>>, bootstrap: boolean): void {
    for (const [g, cfg] of Object.entries(groups)) {
      const h = p.hosted!.get(g);
      if (h !== undefined) {
        if (cfg.version > (h.replica.currentConfig()?.version ?? 0))
          this.dataStep(p, h, { from: 'cm', to: p.id, msg: { kind: 'cm-config', group: g, rid: null, ok: true, config: cfg } });
        continue;
      }
      const l = this.layout[g];
      const inLayout = bootstrap && l !== undefined && [l.primary, ...l.secondaries].includes(p.id);
      if (inLayout || cfg.primary === p.id || cfg.secondaries.includes(p.id)) this.open(p, g, cfg);
    }
  }

  private open(p: DataProc, group: string, cfg: GroupConfig): void {
    let disk = p.disks.get(group);
    if (disk === undefined) {
      disk = new ReplicaFiles(group, this.o.checkpointEvery);
      p.disks.set(group, disk);
    }
    const state = p.recovered.get(group) ?? disk.load();
    p.recovered.delete(group);
    const replica = new PacificaReplica({
      id: p.id,
      group,
      disk: state,
      initialConfig: cfg,
      now: this.clock(p),
      lease: this.o.leaseMs,
      grace: this.o.graceMs,
      beaconInterval: this.o.beaconMs,
      cmRetry: this.o.graceMs,
      checkpointEvery: this.o.checkpointEvery,
      bugs: this.o.bugs,
    });
    const h: Hosted = { group, replica, disk, queue: [], writeDoneAt: 0 };
    p.hosted!.set(group, h);
    this.note(`open ${p.id} ${group} v${cfg.version}`);
    this.drain(p, h);
  }

  private dataTick(p: DataProc): void {
    for (const h of p.hosted!.values()) {
      h.replica.tick(this.clock(p));
      this.drain(p, h);
    }
  }

  private dataInput(p: DataProc, w: Wire): void {
    if (w.kind === 'cm-ans') {
      p.caller?.answer(w.rid, w.ans);
      return;
    }
    if (w.kind !== 'p') return;
    const m = w.env.msg;
    const h = p.hosted?.get(m.group);
    if (h === undefined) {
      if (m.kind === 'request')
        this.send({
          kind: 'p',
          from: p.id,
          to: w.from,
          env: { from: p.id, to: w.env.from, msg: { kind: 'reply', group: m.group, id: m.id, ok: false, error: 'not-primary' } },
        });
      return;
    }
    this.dataStep(p, h, w.env);
  }

  private dataStep(p: DataProc, h: Hosted, env: Envelope): void {
    h.replica.step(env, this.clock(p));
    this.drain(p, h);
  }

  /** Take every Output: early messages now, records to the disk, the rest once durable and in order. */
  private drain(p: DataProc, h: Hosted): void {
    for (let out = h.replica.takeOutput(); out !== null; out = h.replica.takeOutput()) {
      for (const e of out.early) this.dataSend(p, h, e);
      const planned = out.persist.length === 0 ? null : h.disk.plan(out.persist);
      const entry = { out, durable: planned === null, write: planned };
      h.queue.push(entry);
      if (planned !== null) {
        h.writeDoneAt = Math.max(h.writeDoneAt, this.now + this.diskRng.int(0, this.o.maxDiskMs));
        const write = (): void => {
          h.disk.apply(planned);
          entry.durable = true;
          this.complete(p, h);
        };
        if (h.writeDoneAt <= this.now) write();
        else this.procAt(p, h.writeDoneAt, write);
      }
    }
    this.complete(p, h);
  }

  private complete(p: DataProc, h: Hosted): void {
    let any = false;
    while (h.queue.length > 0 && h.queue[0].durable) {
      const { out } = h.queue.shift()!;
      for (const e of out.messages) this.dataSend(p, h, e);
      h.replica.persisted(out, this.clock(p));
      any = true;
    }
    if (any) this.drain(p, h);
  }

  private dataSend(p: DataProc, h: Hosted, env: Envelope): void {
    const m = env.msg;
    if (env.to !== 'cm') {
      this.send({ kind: 'p', from: p.id, to: env.to, env });
      return;
    }
    if (m.kind !== 'cm-get' && m.kind !== 'cm-reconfigure') return;
    const req: CmRequest = m.kind === 'cm-get' ? { op: 'get' } : { op: 'reconfigure', group: m.group, expectedVersion: m.expectedVersion, config: m.config };
    const inc = p.incarnation;
    p.caller!.request(req, 2000, (a) => {
      if (p.incarnation !== inc || p.hosted?.get(m.group) !== h) return;
      // No configuration: the outcome is unknown (timeout, no leader); the replica asks again.
      const config = a === null ? undefined : a.ok ? (m.kind === 'cm-get' ? a.groups?.[m.group] : a.group) : a.group;
      if (config === undefined) return;
      this.dataStep(p, h, { from: 'cm', to: p.id, msg: { kind: 'cm-config', group: m.group, rid: m.rid, ok: a!.ok, config } });
    });
  }
}

function answerOf(r: CmResult): CmAnswer {
  return r.ok
    ? { ok: true, ...(r.group !== undefined ? { group: r.group } : {}) }
    : { ok: false, error: r.error, ...(r.group !== undefined ? { group: r.group } : {}) };
}

/**
 * A CM client as runtime/client.ts's CmClient behaves: ask the node believed to
 * lead; on not-leader follow the hint (or try the next node), on
 * leader-not-ready ask again a little later: neither was proposed anywhere. An
 * attempt with no answer in 700 ms may have been proposed: a get (idempotent)
 * moves to the next node, any other request ends unknown (null), never sent
 * twice. At the timeout with only refusals so far: no-leader, definitely not applied.
 */
export class CmCaller {
  private guess = 0;
  private nextRid = 1;
  private readonly waiting = new Map<number, (a: CmAnswer) => void>();

  constructor(
    private readonly world: World,
    private readonly id: string,
    private readonly cm: readonly string[],
    private readonly timer: (t: number, f: () => void) => void,
  ) {}

  /** `done` gets the answer, or null when the outcome is unknown (no answer in `timeoutMs`). */
  request(req: CmRequest, timeoutMs: number, done: (a: CmAnswer | null) => void): void {
    const deadline = this.world.now + timeoutMs;
    const idempotent = req.op === 'get';
    let refused: CmAnswer | null = null;
    let finished = false;
    const finish = (a: CmAnswer | null): void => {
      if (finished) return;
      finished = true;
      done(a);
    };
    const attempt = (): void => {
      if (finished) return;
      if (this.world.now >= deadline) return finish(refused === null ? null : { ok: false, error: 'no-leader' });
      const rid = this.nextRid++;
      const to = this.cm[this.guess % this.cm.length];
      let answered = false;
      this.waiting.set(rid, (a) => {
        answered = true;
        if (!a.ok && (a.error === 'not-leader' || a.error === 'leader-not-ready')) {
          refused = a;
          const hint = a.error === 'not-leader' && a.leader !== undefined && a.leader !== null ? this.cm.indexOf(a.leader) : -1;
          if (hint >= 0 && hint !== this.guess % this.cm.length) this.guess = hint;
          else if (a.error === 'not-leader') this.guess++;
          this.timer(this.world.now + (hint >= 0 ? 1 : 50), attempt);
          return;
        }
        finish(a);
      });
      this.world.send({ kind: 'cm-req', from: this.id, to, rid, req });
      this.timer(Math.min(deadline, this.world.now + 700), () => {
        this.waiting.delete(rid);
        if (answered || finished) return;
        if (!idempotent) return finish(null);
        this.guess++;
        this.timer(this.world.now + 50, attempt);
      });
    };
    attempt();
  }

  answer(rid: number, a: CmAnswer): void {
    const f = this.waiting.get(rid);
    if (f === undefined) return;
    this.waiting.delete(rid);
    f(a);
  }
}
