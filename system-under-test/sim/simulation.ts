// A deterministic in-process simulation of a configuration-manager cluster:
// CM replicas (Raft + CM state machine) on a simulated network (loss,
// duplication, random delays hence reordering, partitions) and simulated disks
// (a crash loses everything not yet written), with clients issuing competing
// reconfigure requests and linearizable reads, and membership changes through
// joint consensus. Everything is driven by ONE seeded PRNG, so a run is a pure
// function of its options: a failing seed replays exactly, and the trace hash
// proves it.
//
// After every step (a tick, a delivered message, a proposal, a Ready) the
// SafetyChecker checks Raft's safety properties, and the simulator checks the
// CM's: per group, every successful reconfigure moves the version by exactly 1
// from its expected version, and no two successes share an expected version;
// a linearizable read never returns a version older than one already
// acknowledged when the read began.

import { CmReplica } from '../cm/replica.js';
import type { CmCommand, CmResult, GroupLayout } from '../cm/state.js';
import { initialState, joiningState, type ChangeResult } from '../raft/node.js';
import type { Message, NodeId, Ready } from '../raft/types.js';
import { InvariantError } from '../util/invariant.js';
import { mulberry32, type Prng } from '../util/prng.js';
import { SafetyChecker, SafetyViolation, type Property } from './checker.js';
import { SimDisk } from './disk.js';
import { SimNetwork } from './network.js';
import { TraceHash } from './trace.js';

export interface SimOptions {
  readonly seed: number;
  readonly ticks: number;
  /** Initial CM voters (n1..nV). */
  readonly voters?: number;
  /** Extra servers (after the voters) that membership changes may add. */
  readonly spares?: number;
  readonly bugs?: ReadonlySet<string>;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly loss?: number;
  readonly duplicate?: number;
  readonly maxDelay?: number;
  /** Per-tick probability of crashing a node (at most maxDown down at once). */
  readonly crashRate?: number;
  readonly maxDown?: number;
  /** Per-tick probability of changing the partition (new split or heal). */
  readonly partitionRate?: number;
  /** Per-tick probability that a client issues an operation. */
  readonly clientRate?: number;
  /** Probability that a reconfigure is issued as two competing requests for the same version. */
  readonly raceRate?: number;
  /** Per-tick probability of asking the leader for a membership change. */
  readonly membershipRate?: number;
  /** Probability that a node's Ready is left unwritten until later (so a crash can lose it). */
  readonly deferReady?: number;
  readonly compactEvery?: number;
  /** Small batches split a new leader's catch-up into several appends (Figure 8 territory). */
  readonly maxEntriesPerAppend?: number;
  readonly groups?: number;
  readonly dataServers?: number;
  /** Run the slow pairwise log comparison every this many ticks. */
  readonly fullCheckEvery?: number;
}

export interface SimViolation {
  readonly property: Property;
  readonly message: string;
  readonly tick: number;
  readonly seed: number;
}

export interface SimStats {
  elections: number;
  maxCommit: number;
  messages: number;
  crashes: number;
  partitions: number;
  reconfigureOk: number;
  reconfigureFailed: number;
  reads: number;
  /** Configuration entries committed (learner additions, C_old,new, C_new). */
  configChanges: number;
  /** Sizes of the voter sets of the successive committed C_new entries. */
  voterHistory: number[];
  snapshotsInstalled: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ticks: number;
  readonly violation: SimViolation | null;
  /** Hash of every event of the run; equal for equal options. */
  readonly trace: string;
  readonly stats: SimStats;
  /** Final voter set according to the last leader seen (or the first live node). */
  readonly finalVoters: readonly NodeId[];
}

interface Server {
  readonly id: NodeId;
  readonly disk: SimDisk;
  replica: CmReplica | null; // null while crashed
  downUntil: number;
  /** A Ready may be waiting (not yet written): a crash now loses it. */
  dirty: boolean;
}

interface PendingReconfigure {
  readonly group: string;
  readonly expectedVersion: number;
  readonly node: NodeId;
}

interface PendingRead {
  readonly group: string;
  readonly node: NodeId;
  /** Highest version acknowledged to any client when the read began. */
  readonly atLeast: number;
}

/** Run one simulation; never throws for a protocol failure, it reports it. */
export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}

class Simulation {
  private readonly o: Required<SimOptions>;
  private readonly rng: Prng;
  private readonly net: SimNetwork<Message>;
  private readonly servers = new Map<NodeId, Server>();
  private readonly checker: SafetyChecker;
  private readonly trace = new TraceHash();
  private now = 0;
  private readonly stats: SimStats = {
    elections: 0,
    maxCommit: 0,
    messages: 0,
    crashes: 0,
    partitions: 0,
    reconfigureOk: 0,
    reconfigureFailed: 0,
    reads: 0,
    configChanges: 0,
    voterHistory: [],
    snapshotsInstalled: 0,
  };
  private lastJoint = false;

  private readonly groupNames: string[];
  private readonly dataServers: string[];
  private nextId = 0;
  private bootstrapped = false;
  private lastBootstrapAttempt = Number.NEGATIVE_INFINITY;
  private readonly reconfigures = new Map<string, PendingReconfigure>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly resultsSeen = new Set<string>();
  /** Per group: version after the last successful reconfigure, and the expected versions that succeeded. */
  private readonly versions = new Map<string, number>();
  private readonly wonVersions = new Map<string, Set<number>>();
  private readonly acked = new Map<string, number>();

  constructor(opts: SimOptions) {
    this.o = {
      voters: 3,
      spares: 0,
      bugs: new Set(),
      electionTicks: 10,
      heartbeatTicks: 2,
      loss: 0.02,
      duplicate: 0.02,
      maxDelay: 3,
      crashRate: 0.004,
      maxDown: 1,
      partitionRate: 0.005,
      clientRate: 0.3,
      raceRate: 0.3,
      membershipRate: 0,
      deferReady: 0.2,
      compactEvery: 40,
      maxEntriesPerAppend: 8,
      groups: 3,
      dataServers: 5,
      fullCheckEvery: 50,
      ...opts,
    };
    this.rng = mulberry32(this.o.seed);
    this.net = new SimNetwork<Message>(this.rng.fork(), { loss: this.o.loss, duplicate: this.o.duplicate, maxDelay: this.o.maxDelay });
    this.checker = new SafetyChecker(() => this.live().map((s) => s.replica!.raft));
    this.groupNames = Array.from({ length: this.o.groups }, (_, i) => `g${i + 1}`);
    this.dataServers = Array.from({ length: this.o.dataServers }, (_, i) => `d${i + 1}`);
    const founders = Array.from({ length: this.o.voters }, (_, i) => `n${i + 1}`);
    for (let i = 0; i < this.o.voters + this.o.spares; i++) {
      const id = `n${i + 1}`;
      const disk = new SimDisk(i < this.o.voters ? initialState(founders) : joiningState());
      const server: Server = { id, disk, replica: null, downUntil: 0, dirty: false };
      this.servers.set(id, server);
      this.start(server);
    }
  }

  run(): SimResult {
    let violation: SimViolation | null = null;
    try {
      for (this.now = 0; this.now < this.o.ticks; this.now++) this.tickOnce();
      this.checker.checkLogsMatch(this.live().map((s) => s.replica!.raft));
    } catch (e) {
      violation = this.toViolation(e);
    }
    this.stats.elections = this.checker.elections;
    this.stats.maxCommit = this.checker.maxCommit;
    this.stats.messages = this.net.sent;
    return {
      seed: this.o.seed,
      ticks: this.now,
      violation,
      trace: this.trace.digest(),
      stats: { ...this.stats, voterHistory: [...this.stats.voterHistory] },
      finalVoters: this.finalVoters(),
    };
  }

  private toViolation(e: unknown): SimViolation {
    const base = { tick: this.now, seed: this.o.seed };
    if (e instanceof SafetyViolation) return { ...base, property: e.property, message: `${e.message} (seed=${this.o.seed}, tick=${this.now})` };
    if (e instanceof InvariantError) return { ...base, property: 'node-invariant', message: `${e.message} (seed=${this.o.seed}, tick=${this.now})` };
    throw e; // a bug in the simulator itself: let it surface with its stack
  }

  // ---------------------------------------------------------------- the loop

  private tickOnce(): void {
    this.faults();
    this.clients();
    this.membership();
    for (const s of this.live()) {
      if (s.dirty) this.flush(s);
      s.replica!.tick();
      this.after(s);
    }
    for (const m of this.net.due(this.now)) {
      const s = this.servers.get(m.to);
      if (s === undefined || s.replica === null) continue;
      this.trace.add(`${this.now} ${m.from}>${m.to} ${m.type} ${m.term}`);
      s.replica.step(m);
      this.after(s);
    }
    if (this.now % this.o.fullCheckEvery === 0) this.checker.checkLogsMatch(this.live().map((s) => s.replica!.raft));
  }

  /** After any step of a node: check, then write its Ready now or (sometimes) later. */
  private after(s: Server): void {
    this.checker.observe(s.replica!.raft);
    if (!s.replica!.raft.hasReady()) return;
    if (this.rng.chance(this.o.deferReady)) s.dirty = true;
    else this.flush(s);
  }

  /** Write, send and apply a node's Ready, as the Raft Ready contract says. */
  private flush(s: Server): void {
    s.dirty = false;
    const r = s.replica!;
    const rd: Ready | null = r.takeReady();
    if (rd === null) return;
    this.checker.observeReady(r.raft, rd);
    s.disk.write(rd);
    for (const m of rd.messages) this.net.send(this.now, m);
    if (rd.snapshot !== null) this.stats.snapshotsInstalled++;
    const out = r.completeReady(rd);
    if (out.snapshotToSave !== null) {
      this.checker.observeSnapshot(s.id, out.snapshotToSave);
      s.disk.saveSnapshot(out.snapshotToSave);
    }
    for (const e of rd.committedEntries) {
      if (e.kind !== 'config' || this.resultsSeen.has(`cfg${e.index}`)) continue;
      // First commit of this configuration entry anywhere (entries commit in index order).
      this.resultsSeen.add(`cfg${e.index}`);
      this.stats.configChanges++;
      const joint = e.config.outgoing.length > 0;
      if (this.lastJoint && !joint) this.stats.voterHistory.push(e.config.voters.length);
      this.lastJoint = joint;
      this.trace.add(`${this.now} config ${e.index} ${e.config.voters.join(',')}/${e.config.outgoing.join(',')}`);
    }
    for (const { id, result } of out.results) this.onResult(s.id, id, result);
    for (const ctx of out.reads) this.onRead(s, ctx);
    if (!this.bootstrapped) this.checkBootstrapped(r);
    this.checker.observe(r.raft);
  }

  /** Clients start once some node has applied the bootstrap (every group exists, at version 1). */
  private checkBootstrapped(r: CmReplica): void {
    const groups = r.state.groups();
    if (!this.groupNames.every((g) => groups[g] !== undefined)) return;
    for (const g of this.groupNames) this.versions.set(g, groups[g].version);
    this.bootstrapped = true;
    this.trace.add(`${this.now} bootstrapped`);
  }

  private live(): Server[] {
    const out: Server[] = [];
    for (const s of this.servers.values()) if (s.replica !== null) out.push(s);
    return out;
  }

  private start(s: Server): void {
    s.replica = new CmReplica({
      id: s.id,
      state: s.disk.load(),
      random: this.rng.fork(),
      electionTicks: this.o.electionTicks,
      heartbeatTicks: this.o.heartbeatTicks,
      bugs: this.o.bugs,
      compactEvery: this.o.compactEvery,
      maxEntriesPerAppend: this.o.maxEntriesPerAppend,
    });
    s.dirty = false;
  }

  // ---------------------------------------------------------------- faults

  private faults(): void {
    for (const s of this.servers.values()) {
      if (s.replica === null && this.now >= s.downUntil) {
        this.start(s);
        this.trace.add(`${this.now} restart ${s.id}`);
        this.checker.observe(s.replica!.raft);
      }
    }
    const up = this.live();
    const down = this.servers.size - up.length;
    if (down < this.o.maxDown && this.rng.chance(this.o.crashRate)) {
      const victim = this.rng.pick(up);
      // The node object and any unwritten Ready vanish; the disk stays.
      victim.replica = null;
      victim.dirty = false;
      victim.downUntil = this.now + (this.rng.chance(0.5) ? this.rng.int(1, 3) : this.rng.int(5, 6 * this.o.electionTicks));
      this.stats.crashes++;
      this.trace.add(`${this.now} crash ${victim.id}`);
    }
    if (this.rng.chance(this.o.partitionRate)) {
      if (this.net.partitioned() || this.rng.chance(0.3)) {
        this.net.heal();
        this.trace.add(`${this.now} heal`);
      } else {
        const ids = [...this.servers.keys()];
        let groups: NodeId[][];
        if (this.rng.chance(0.5)) {
          groups = [[this.rng.pick(ids)]]; // isolate one node
        } else {
          const a: NodeId[] = [];
          const b: NodeId[] = [];
          for (const id of ids) (this.rng.chance(0.5) ? a : b).push(id);
          groups = [a, b];
        }
        this.net.partition(groups);
        this.stats.partitions++;
        this.trace.add(`${this.now} partition ${groups.map((g) => g.join(',')).join('|')}`);
      }
    }
  }

  // ---------------------------------------------------------------- clients

  /** A leader as a client would find one: any live node that believes it leads. */
  private someLeader(): Server | null {
    const leaders = this.live().filter((s) => s.replica!.raft.status().role === 'leader');
    return leaders.length === 0 ? null : this.rng.pick(leaders);
  }

  private propose(s: Server, command: CmCommand): string | null {
    const id = `p${this.nextId++}`;
    const res = s.replica!.submit({ id, command });
    this.trace.add(`${this.now} propose ${s.id} ${id} ${command.op} ${res.ok}`);
    this.after(s);
    return res.ok ? id : null;
  }

  private clients(): void {
    if (!this.bootstrapped) {
      // Register the data servers and create the groups, retrying until some node applied it.
      if (this.now - this.lastBootstrapAttempt < 4 * this.o.electionTicks) return;
      const leader = this.someLeader();
      if (leader === null) return;
      this.lastBootstrapAttempt = this.now;
      for (const d of this.dataServers) this.propose(leader, { op: 'registerServer', id: d, address: `10.0.0.${d.slice(1)}:7000` });
      const layout: Record<string, GroupLayout> = {};
      for (const g of this.groupNames) layout[g] = this.randomLayout();
      this.propose(leader, { op: 'createGroups', groups: layout });
      return;
    }
    if (!this.rng.chance(this.o.clientRate)) return;
    // Mostly to a leader; sometimes to any node (which refuses unless it leads).
    const up = this.live();
    const target = this.rng.chance(0.85) || up.length === 0 ? this.someLeader() : this.rng.pick(up);
    if (target === null || target.replica === null) return;
    const group = this.rng.pick(this.groupNames);
    if (this.rng.chance(0.3)) {
      const ctx = `r${this.nextId++}`;
      const res = target.replica.read(ctx);
      this.trace.add(`${this.now} read ${target.id} ${ctx} ${res.ok}`);
      if (res.ok) this.reads.set(ctx, { group, node: target.id, atLeast: this.acked.get(group) ?? 0 });
      this.after(target);
      return;
    }
    // Reconfigure against the version this node has applied (possibly stale).
    const cur = target.replica.state.group(group);
    if (cur === undefined) return;
    const copies = this.rng.chance(this.o.raceRate) ? 2 : 1;
    for (let i = 0; i < copies && target.replica !== null; i++) {
      const id = this.propose(target, { op: 'reconfigure', group, expectedVersion: cur.version, config: this.randomLayout() });
      if (id !== null) this.reconfigures.set(id, { group, expectedVersion: cur.version, node: target.id });
    }
  }

  private randomLayout(): GroupLayout {
    const pool = [...this.dataServers];
    const chosen: string[] = [];
    for (let i = 0; i < 3 && pool.length > 0; i++) chosen.push(pool.splice(this.rng.int(0, pool.length - 1), 1)[0]);
    return { primary: chosen[0], secondaries: chosen.slice(1) };
  }

  /** A proposal was applied on node `at`. The first application anywhere is checked; the submitter's acknowledges. */
  private onResult(at: NodeId, id: string, result: CmResult): void {
    const first = !this.resultsSeen.has(id);
    this.resultsSeen.add(id);
    const rc = this.reconfigures.get(id);
    if (rc === undefined) return;
    if (first) {
      if (result.ok) {
        this.stats.reconfigureOk++;
        const v = result.group!.version;
        const won = this.wonVersions.get(rc.group) ?? new Set<number>();
        if (won.has(rc.expectedVersion)) {
          throw new SafetyViolation('cm-version', `group ${rc.group}: two reconfigures succeeded with expected version ${rc.expectedVersion}`);
        }
        won.add(rc.expectedVersion);
        this.wonVersions.set(rc.group, won);
        if (v !== rc.expectedVersion + 1 || v !== (this.versions.get(rc.group) ?? 0) + 1) {
          throw new SafetyViolation(
            'cm-version',
            `group ${rc.group}: reconfigure expecting version ${rc.expectedVersion} succeeded with version ${v} (previous version ${this.versions.get(rc.group)})`,
          );
        }
        this.versions.set(rc.group, v);
      } else {
        this.stats.reconfigureFailed++;
      }
    }
    if (at === rc.node) {
      // The client that submitted it learns the outcome now.
      if (result.ok) this.acked.set(rc.group, Math.max(this.acked.get(rc.group) ?? 0, result.group!.version));
      this.reconfigures.delete(id);
    }
  }

  private onRead(s: Server, ctx: string): void {
    const r = this.reads.get(ctx);
    if (r === undefined) return;
    this.reads.delete(ctx);
    if (r.node !== s.id) throw new SafetyViolation('linearizable-read', `read ${ctx} started on ${r.node} was served by ${s.id}`);
    const v = s.replica!.state.group(r.group)?.version ?? 0;
    this.stats.reads++;
    this.trace.add(`${this.now} readok ${ctx} ${v}`);
    if (v < r.atLeast) {
      throw new SafetyViolation(
        'linearizable-read',
        `read of ${r.group} on ${s.id} returned version ${v}, but version ${r.atLeast} was acknowledged before the read began`,
      );
    }
  }

  // ---------------------------------------------------------------- membership

  private membership(): void {
    if (this.o.membershipRate === 0 || !this.rng.chance(this.o.membershipRate)) return;
    const leader = this.someLeader();
    if (leader === null) return;
    const cfg = leader.replica!.raft.status().config;
    const all = [...this.servers.keys()];
    const outside = all.filter((id) => !cfg.voters.includes(id));
    const grow = cfg.voters.length <= 3 || (outside.length > 0 && this.rng.chance(0.5));
    let res: ChangeResult;
    let what: string;
    if (grow && outside.length > 0) {
      const id = this.rng.pick(outside);
      what = `add ${id}`;
      res = leader.replica!.addMember(id);
    } else if (cfg.voters.length > 3) {
      const id = this.rng.pick(cfg.voters);
      what = `remove ${id}`;
      res = leader.replica!.removeMember(id);
    } else {
      return;
    }
    this.trace.add(`${this.now} member ${leader.id} ${what} ${res.ok ? 'ok' : res.reason}`);
    this.after(leader);
  }

  private finalVoters(): NodeId[] {
    const live = this.live();
    const leader = live.find((s) => s.replica!.raft.status().role === 'leader') ?? live[0];
    return leader === undefined ? [] : [...leader.replica!.raft.status().config.voters];
  }
}
