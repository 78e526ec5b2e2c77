// A deterministic simulation of one PacificA replication group: three data
// servers (PacificaReplica), a configuration manager modelled directly by the
// CM state machine (the version compare-and-set, without running Raft), and
// clients; a simulated network (random delays hence reordering, loss,
// duplication of replica traffic, partitions), crashes with restarts from
// what was written to disk (an Output not yet written is lost), and jumps of
// each server's wall clock. Everything is driven by ONE seeded PRNG, so a run
// is a pure function of its options, and the trace hash proves it.
//
// After every step (a tick of a server, a delivered message, a written
// Output) it checks:
// - one-serving: at most one replica would answer a read at this instant;
// - acked-write: every acknowledged update is committed, at the serial number
//   it was acknowledged with, on the replica that serves;
// - replica-invariant: the protocol's own assertions.
// It records every client operation as a Jepsen history (invoke, then ok /
// fail / info); the linearizability of that history is checked by the tests
// (this folder never imports the harness or its checkers).

import { CmStateMachine } from '../cm/state.js';
import type { CmCommand, CmResult, GroupConfig } from '../cm/state.js';
import { PacificaReplica, type ReplicaStatus } from '../pacifica/replica.js';
import type { ClientOp, Envelope, KvValue, Now, Output, PMessage } from '../pacifica/types.js';
import { InvariantError } from '../util/invariant.js';
import { mulberry32, type Prng } from '../util/prng.js';
import { ackedWriteViolation } from './acked-write.js';
import { PacificaDisk } from './pacifica-disk.js';
import { TraceHash } from './trace.js';

export interface PacificaSimOptions {
  readonly seed: number;
  readonly ticks: number;
  readonly bugs?: ReadonlySet<string>;
  readonly lease?: number;
  readonly grace?: number;
  readonly beaconInterval?: number;
  readonly checkpointEvery?: number;
  readonly loss?: number;
  /** Probability that a replica-to-replica or CM message is delivered twice (client requests never are). */
  readonly duplicate?: number;
  readonly maxDelay?: number;
  /** Per-tick probability of crashing a server (at most maxDown down at once). */
  readonly crashRate?: number;
  readonly maxDown?: number;
  /** Per-tick probability of changing the partition (a new split, or healing). */
  readonly partitionRate?: number;
  /** Probability that a partition isolates the CM's current primary (else a random server). */
  readonly isolatePrimary?: number;
  /** Probability that the CM is on the isolated server's side. */
  readonly cmWithIsolated?: number;
  /** Probability that during a partition the clients reach every server (a partial partition). */
  readonly clientsEverywhere?: number;
  /** Per-tick probability that some server's wall clock jumps (by up to ±3 leases). */
  readonly clockJumpRate?: number;
  /** Probability that an Output is left unwritten for a while (so a crash can lose it). */
  readonly deferWrite?: number;
  /** Concurrent client processes and the per-tick probability that an idle one issues an operation. */
  readonly clients?: number;
  readonly clientRate?: number;
  /** A client gives up (outcome unknown) after this many ticks. */
  readonly clientTimeout?: number;
  /** Fraction of client operations that are reads. */
  readonly readRate?: number;
  /** A client caches the group's configuration this long. */
  readonly clientCacheTicks?: number;
  /** Faults stop this many ticks before the end (then every server is restarted and healed). */
  readonly quiet?: number;
  /**
   * Check one-serving and acked-write after every step (default true). Off, a
   * run goes on past such a violation, so the tests can see whether the
   * history alone (the linearizability checker) shows the defect.
   */
  readonly checkProperties?: boolean;
  /** Called with every trace event (for replaying a failing seed by eye). */
  readonly log?: (event: string) => void;
}

export type PacificaProperty = 'one-serving' | 'acked-write' | 'replica-invariant';

export interface PacificaViolation {
  readonly property: PacificaProperty;
  readonly message: string;
  readonly tick: number;
  readonly seed: number;
}

/** A history event, in the shape of ../../history's `Op` (this folder does not import it). */
export interface SimOp {
  index: number;
  type: 'invoke' | 'ok' | 'fail' | 'info';
  f: 'read' | 'write' | 'cas' | 'append';
  key: string;
  value: KvValue | [KvValue, KvValue];
  process: number;
  /** Nanoseconds: one tick is a millisecond. */
  time: number;
  error?: string;
}

export interface PacificaStats {
  ok: number;
  fail: number;
  info: number;
  readsOk: number;
  writesOk: number;
  reconfigures: number;
  promotions: number;
  removals: number;
  additions: number;
  crashes: number;
  partitions: number;
  clockJumps: number;
  lostOutputs: number;
  checkpoints: number;
  maxCommit: number;
}

export interface PacificaSimResult {
  readonly seed: number;
  readonly ticks: number;
  readonly violation: PacificaViolation | null;
  readonly trace: string;
  readonly stats: PacificaStats;
  readonly history: readonly SimOp[];
  /** The group's configuration at the end (after the quiet period). */
  readonly finalConfig: GroupConfig;
  /** Each server's replica at the end (null: down). */
  readonly finalReplicas: readonly (ReplicaStatus | null)[];
}

/** Named fault mixes. The correct build keeps every property under each of them. */
export const PACIFICA_PROFILES = {
  /** The defaults: a little loss, occasional crashes and partitions, no clock jumps. */
  calm: {},
  /** Frequent crashes (two servers down at once) and slow disks: what must be durable before an ack. */
  crashy: { crashRate: 0.05, deferWrite: 0.8, maxDown: 2 },
  /** Wall clocks jump by up to three leases either way (leases must not notice). */
  clocks: { clockJumpRate: 0.01 },
  /**
   * Split brain: partitions isolate the primary from its secondaries (the CM with
   * them) while clients with a cached configuration still reach it, and
   * clients read a lot; a deposed primary that answers reads shows in the history.
   */
  split: { partitionRate: 0.01, isolatePrimary: 1, cmWithIsolated: 0, clientsEverywhere: 1, clientCacheTicks: 300, readRate: 0.85 },
  /** Frequent partitions, lossy and slow links. */
  lossy: { partitionRate: 0.03, loss: 0.1, maxDelay: 6 },
} satisfies Record<string, Partial<Omit<PacificaSimOptions, 'seed' | 'ticks'>>>;

export type PacificaProfileName = keyof typeof PACIFICA_PROFILES;

export const REGISTER_KEYS = ['r1', 'r2', 'r3'] as const;
export const LIST_KEYS = ['l1', 'l2'] as const;
const GROUP = 'g1';
const SERVERS = ['d1', 'd2', 'd3'] as const;

class Violation extends Error {
  constructor(
    readonly property: PacificaProperty,
    message: string,
  ) {
    super(message);
  }
}

interface Server {
  readonly id: string;
  readonly disk: PacificaDisk;
  replica: PacificaReplica | null;
  downUntil: number;
  /** Outputs taken but not yet written (FIFO); a crash loses them. */
  queue: Output[];
  readonly monoOffset: number;
  wallOffset: number;
}

interface InFlight {
  readonly at: number;
  readonly env: Envelope;
}

/** The operations the simulated clients issue (transfer and read-many are exercised by the process tests). */
type SimClientOp = Extract<ClientOp, { f: SimOp['f'] }>;

interface ClientState {
  process: number;
  pending: { id: string; op: SimClientOp; deadline: number; f: SimOp['f']; key: string } | null;
  /**
   * The group's configuration as this client last looked it up (as the client
   * library will: cached under a lease, refreshed on expiry, on a refusal and
   * on a timeout). A stale cache sends requests to a deposed primary.
   */
  cached: GroupConfig | null;
  cachedUntil: number;
}

export function runPacificaSimulation(opts: PacificaSimOptions): PacificaSimResult {
  return new PacificaSimulation(opts).run();
}

class PacificaSimulation {
  private readonly o: Required<PacificaSimOptions>;
  private readonly rng: Prng;
  private readonly netRng: Prng;
  private readonly hash = new TraceHash();
  private readonly trace = {
    add: (e: string) => {
      this.hash.add(e);
      this.o.log(e);
    },
  };
  private readonly servers = new Map<string, Server>();
  private readonly cm: CmStateMachine;
  private cmIndex = 0;
  private inFlight: InFlight[] = [];
  private side = new Map<string, number>();
  private clientsEverywhere = false;
  private now = 0;
  private readonly history: SimOp[] = [];
  private readonly clients: ClientState[] = [];
  private nextProcess = 0;
  private nextRequest = 0;
  /** Acknowledged updates by serial number: the request id the primary acknowledged at that sn. */
  private readonly acked = new Map<number, string>();
  private maxAcked = 0;
  private readonly stats: PacificaStats = {
    ok: 0,
    fail: 0,
    info: 0,
    readsOk: 0,
    writesOk: 0,
    reconfigures: 0,
    promotions: 0,
    removals: 0,
    additions: 0,
    crashes: 0,
    partitions: 0,
    clockJumps: 0,
    lostOutputs: 0,
    checkpoints: 0,
    maxCommit: 0,
  };

  constructor(opts: PacificaSimOptions) {
    this.o = {
      bugs: new Set(),
      lease: 20,
      grace: 30,
      beaconInterval: 5,
      checkpointEvery: 40,
      loss: 0.03,
      duplicate: 0.02,
      maxDelay: 3,
      crashRate: 0.004,
      maxDown: 1,
      partitionRate: 0.006,
      clockJumpRate: 0,
      isolatePrimary: 0,
      cmWithIsolated: 0.5,
      clientsEverywhere: 0.5,
      deferWrite: 0.2,
      clients: 4,
      clientRate: 0.3,
      clientTimeout: 40,
      clientCacheTicks: 100,
      readRate: 0.4,
      quiet: 300,
      log: () => {},
      checkProperties: true,
      ...opts,
    };
    this.rng = mulberry32(this.o.seed);
    this.netRng = this.rng.fork();
    this.cm = CmStateMachine.empty();
    for (const id of SERVERS) this.cmApply({ op: 'registerServer', id, address: id });
    this.cmApply({ op: 'createGroups', groups: { [GROUP]: { primary: 'd1', secondaries: ['d2', 'd3'] } } });
    for (const id of SERVERS) {
      const s: Server = {
        id,
        disk: new PacificaDisk(),
        replica: null,
        downUntil: 0,
        queue: [],
        monoOffset: this.rng.int(0, 10_000),
        wallOffset: this.rng.int(0, 1_000_000),
      };
      this.servers.set(id, s);
      this.start(s, this.cm.group(GROUP));
    }
    for (let i = 0; i < this.o.clients; i++) this.clients.push({ process: this.nextProcess++, pending: null, cached: null, cachedUntil: 0 });
  }

  run(): PacificaSimResult {
    let violation: PacificaViolation | null = null;
    const faultsUntil = this.o.ticks - this.o.quiet;
    try {
      for (this.now = 0; this.now < this.o.ticks; this.now++) {
        if (this.now < faultsUntil) this.faults();
        else if (this.now === faultsUntil) this.healAll();
        this.tickOnce();
      }
    } catch (e) {
      if (e instanceof Violation)
        violation = { property: e.property, message: `${e.message} (seed=${this.o.seed}, tick=${this.now})`, tick: this.now, seed: this.o.seed };
      else if (e instanceof InvariantError)
        violation = { property: 'replica-invariant', message: `${e.message} (seed=${this.o.seed}, tick=${this.now})`, tick: this.now, seed: this.o.seed };
      else throw e;
    }
    return {
      seed: this.o.seed,
      ticks: this.now,
      violation,
      trace: this.hash.digest(),
      stats: { ...this.stats },
      history: this.history,
      finalConfig: this.cm.group(GROUP)!,
      finalReplicas: [...this.servers.values()].map((s) => s.replica?.status(this.clock(s)) ?? null),
    };
  }

  // ------------------------------------------------------------- the loop

  private tickOnce(): void {
    this.clientsIssue();
    for (const s of this.servers.values()) {
      if (s.replica === null) continue;
      if (s.queue.length > 0 && !this.rng.chance(this.o.deferWrite)) this.flush(s);
      s.replica.tick(this.clock(s));
      this.after(s);
    }
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.inFlight) (f.at <= this.now ? due : later).push(f);
    this.inFlight = later;
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.netRng.int(0, i);
      [due[i], due[j]] = [due[j], due[i]];
    }
    for (const { env } of due) {
      if (!this.connected(env.from, env.to)) continue;
      this.deliver(env);
    }
  }

  private clock(s: Server): Now {
    return { mono: this.now + s.monoOffset, wall: this.now + s.wallOffset };
  }

  private deliver(env: Envelope): void {
    const m = env.msg;
    this.trace.add(`${this.now} ${env.from}>${env.to} ${m.kind}`);
    if (env.to === 'cm') return this.onCm(env.from, m);
    const s = this.servers.get(env.to);
    if (s !== undefined) {
      if (s.replica === null) return;
      s.replica.step(env, this.clock(s));
      this.after(s);
      return;
    }
    this.onClientReply(env.to, m);
  }

  /** After a step of a server: check, then write its Output now or (sometimes) later. */
  private after(s: Server): void {
    this.check();
    const r = s.replica!;
    for (let out = r.takeOutput(); out !== null; out = r.takeOutput()) {
      for (const e of out.early) this.send(e);
      s.queue.push(out);
      if (!this.rng.chance(this.o.deferWrite)) this.flush(s);
    }
  }

  /** Write every queued Output in order (fsync), then send its messages and tell the replica. */
  private flush(s: Server): void {
    const r = s.replica!;
    while (s.queue.length > 0) {
      const out = s.queue.shift()!;
      s.disk.write(out.persist);
      for (const p of out.persist) if (p.kind === 'checkpoint') this.stats.checkpoints++;
      for (const e of out.messages) this.send(e);
      r.persisted(out, this.clock(s));
      this.check();
      for (let more = r.takeOutput(); more !== null; more = r.takeOutput()) {
        for (const e of more.early) this.send(e);
        s.queue.push(more);
      }
    }
  }

  private send(env: Envelope): void {
    if (this.netRng.chance(this.o.loss)) return;
    const replicaTraffic = env.msg.kind !== 'request' && env.msg.kind !== 'reply';
    const copies = replicaTraffic && this.netRng.chance(this.o.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) this.inFlight.push({ at: this.now + this.netRng.int(0, this.o.maxDelay), env });
  }

  /** Servers and the CM have a side (absent = 0); clients are on side 0, or reach every side. */
  private connected(a: string, b: string): boolean {
    const client = (x: string) => x !== 'cm' && !this.servers.has(x);
    if (this.clientsEverywhere && (client(a) || client(b))) return true;
    return (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0);
  }

  // ------------------------------------------------------------- faults

  private faults(): void {
    for (const s of this.servers.values()) {
      if (s.replica === null && this.now >= s.downUntil) this.start(s, undefined);
    }
    const down = [...this.servers.values()].filter((s) => s.replica === null).length;
    if (down < this.o.maxDown && this.rng.chance(this.o.crashRate)) {
      const s = this.rng.pick([...this.servers.values()].filter((x) => x.replica !== null));
      this.stats.lostOutputs += s.queue.length;
      s.replica = null;
      s.queue = [];
      s.downUntil = this.now + this.rng.int(this.o.lease, 4 * this.o.grace);
      this.stats.crashes++;
      this.trace.add(`${this.now} crash ${s.id}`);
    }
    if (this.rng.chance(this.o.partitionRate)) {
      this.side.clear();
      this.clientsEverywhere = false;
      if (this.rng.chance(0.7)) {
        // Isolate one server from the others; the CM is on either side; the clients are with
        // the majority, or (a partial partition) reach every server.
        const lone = this.rng.chance(this.o.isolatePrimary) ? this.cm.group(GROUP)!.primary : this.rng.pick(SERVERS);
        this.side.set(lone, 1);
        const cmWithLone = this.rng.chance(this.o.cmWithIsolated);
        if (cmWithLone) this.side.set('cm', 1);
        this.clientsEverywhere = this.rng.chance(this.o.clientsEverywhere);
        this.stats.partitions++;
        this.trace.add(`${this.now} partition ${lone} cm:${cmWithLone ? 1 : 0} clients:${this.clientsEverywhere ? 'all' : 0}`);
      } else {
        this.trace.add(`${this.now} heal`);
      }
    }
    if (this.rng.chance(this.o.clockJumpRate)) {
      const s = this.rng.pick([...this.servers.values()]);
      const by = this.rng.int(-3 * this.o.lease, 3 * this.o.lease);
      s.wallOffset += by;
      this.stats.clockJumps++;
      this.trace.add(`${this.now} clock ${s.id} ${by}`);
    }
  }

  private healAll(): void {
    this.side.clear();
    this.clientsEverywhere = false;
    for (const s of this.servers.values()) if (s.replica === null) this.start(s, undefined);
    this.trace.add(`${this.now} heal-all`);
  }

  private start(s: Server, initial: GroupConfig | undefined): void {
    s.replica = new PacificaReplica({
      id: s.id,
      group: GROUP,
      disk: s.disk.load(),
      initialConfig: initial,
      now: this.clock(s),
      lease: this.o.lease,
      grace: this.o.grace,
      beaconInterval: this.o.beaconInterval,
      cmRetry: this.o.grace,
      checkpointEvery: this.o.checkpointEvery,
      bugs: this.o.bugs,
    });
    this.trace.add(`${this.now} start ${s.id}`);
    this.after(s);
  }

  // ------------------------------------------------------------- the CM

  private cmApply(command: CmCommand): CmResult {
    const index = ++this.cmIndex;
    const r = this.cm.applyEntry({ index, term: 1, kind: 'command', data: JSON.stringify({ id: `c${index}`, command }) });
    return r!.result;
  }

  private onCm(from: string, m: PMessage): void {
    if (m.kind === 'cm-get') {
      this.send({ from: 'cm', to: from, msg: { kind: 'cm-config', group: m.group, rid: m.rid, ok: true, config: this.cm.group(m.group)! } });
      return;
    }
    if (m.kind !== 'cm-reconfigure') return;
    const before = this.cm.group(m.group)!;
    const r = this.cmApply({ op: 'reconfigure', group: m.group, expectedVersion: m.expectedVersion, config: m.config });
    const config = this.cm.group(m.group)!;
    this.send({ from: 'cm', to: from, msg: { kind: 'cm-config', group: m.group, rid: m.rid, ok: r.ok, config } });
    if (!r.ok) return;
    this.stats.reconfigures++;
    if (config.primary !== before.primary) this.stats.promotions++;
    else if (config.secondaries.length < before.secondaries.length) this.stats.removals++;
    else this.stats.additions++;
    this.trace.add(`${this.now} cm v${config.version} ${config.primary}+${config.secondaries.join(',')}`);
    // Tell every server of the group about the change (they also learn it from the primary).
    for (const id of SERVERS) if (id !== from) this.send({ from: 'cm', to: id, msg: { kind: 'cm-config', group: m.group, rid: null, ok: true, config } });
  }

  // ------------------------------------------------------------- clients

  private clientsIssue(): void {
    for (const c of this.clients) {
      if (c.pending !== null && this.now >= c.pending.deadline) {
        // No answer: the outcome is unknown. The process is retired (Jepsen's rule).
        this.record('info', c.pending.f, c.pending.key, null, c.process, 'timeout');
        this.stats.info++;
        c.pending = null;
        c.process = this.nextProcess++;
        c.cached = null;
      }
      if (c.pending !== null || !this.rng.chance(this.o.clientRate)) continue;
      if (c.cached === null || this.now >= c.cachedUntil) {
        c.cached = this.cm.group(GROUP)!;
        c.cachedUntil = this.now + this.o.clientCacheTicks;
      }
      const cfg = c.cached;
      const id = `q${++this.nextRequest}`;
      let op: SimClientOp;
      if (this.rng.chance(0.6)) {
        const key = this.rng.pick(REGISTER_KEYS);
        const x = this.rng.next();
        if (x < this.o.readRate) op = { f: 'read', key };
        else if (x < this.o.readRate + (1 - this.o.readRate) * 0.6) op = { f: 'write', key, value: this.rng.int(0, 4) };
        else op = { f: 'cas', key, from: this.rng.chance(0.2) ? null : this.rng.int(0, 4), to: this.rng.int(0, 4) };
      } else {
        const key = this.rng.pick(LIST_KEYS);
        op = this.rng.chance(this.o.readRate) ? { f: 'read', key } : { f: 'append', key, value: this.nextRequest };
      }
      const value: SimOp['value'] = op.f === 'read' ? null : op.f === 'cas' ? [op.from, op.to] : op.value;
      c.pending = { id, op, deadline: this.now + this.o.clientTimeout, f: op.f, key: op.key };
      this.record('invoke', op.f, op.key, value, c.process);
      this.send({ from: `c${c.process}`, to: cfg.primary, msg: { kind: 'request', group: GROUP, id, version: cfg.version, op } });
    }
  }

  private onClientReply(to: string, m: PMessage): void {
    if (m.kind !== 'reply') return;
    const c = this.clients.find((x) => `c${x.process}` === to && x.pending?.id === m.id);
    if (c === undefined) return; // a reply to a client that gave up already
    const p = c.pending!;
    c.pending = null;
    if (m.ok) {
      const input = p.op.f === 'cas' ? ([p.op.from, p.op.to] as [KvValue, KvValue]) : p.op.f === 'read' ? null : p.op.value;
      this.record('ok', p.f, p.key, p.f === 'read' ? ((m.value ?? null) as KvValue) : input, c.process);
      this.stats.ok++;
      if (p.f === 'read') this.stats.readsOk++;
      else this.stats.writesOk++;
      if (m.sn !== undefined) {
        this.acked.set(m.sn, m.id);
        this.maxAcked = Math.max(this.maxAcked, m.sn);
      }
    } else {
      // Every refusal is definite: a cas that found another value, or a request not taken into the log.
      const input = p.op.f === 'cas' ? ([p.op.from, p.op.to] as [KvValue, KvValue]) : p.op.f === 'read' ? null : p.op.value;
      this.record('fail', p.f, p.key, input, c.process, m.error);
      if (m.error !== 'cas-mismatch') c.cached = null;
      this.stats.fail++;
      if (m.sn !== undefined) {
        this.acked.set(m.sn, m.id); // a failed cas is committed too (as a no-op)
        this.maxAcked = Math.max(this.maxAcked, m.sn);
      }
    }
  }

  private record(type: SimOp['type'], f: SimOp['f'], key: string, value: SimOp['value'], process: number, error?: string): void {
    const op: SimOp = { index: this.history.length, type, f, key, value, process, time: this.now * 1_000_000 };
    if (error !== undefined) op.error = error;
    this.history.push(op);
    this.trace.add(`${this.now} ${type} ${f} ${key} ${JSON.stringify(value)} p${process}`);
  }

  // ------------------------------------------------------------- checks

  private check(): void {
    if (!this.o.checkProperties) return;
    let serving: string | null = null;
    for (const s of this.servers.values()) {
      const r = s.replica;
      if (r === null) continue;
      this.stats.maxCommit = Math.max(this.stats.maxCommit, r.commitSn());
      if (!r.serving(this.clock(s))) continue;
      if (serving !== null) throw new Violation('one-serving', `${serving} and ${s.id} both serve group ${GROUP}`);
      serving = s.id;
      // Every acknowledged update is committed on the serving replica, at its serial number.
      const broken = ackedWriteViolation(s.id, r, { max: this.maxAcked, ids: this.acked });
      if (broken !== null) throw new Violation('acked-write', broken);
    }
  }
}
