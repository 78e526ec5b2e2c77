// One replica of one PacificA replication group: the pure protocol state
// machine, in the style of ../raft/node.ts. No sockets, files, clocks, timers
// or randomness: the driver passes the time (`Now`) into every call, feeds it
// messages, and drains an `Output` (records to persist, then messages to send)
// with `takeOutput()`, calling `persisted(output)` once the records are durable.
//
// Roles follow from the configuration {version, primary, secondaries} that the
// CM holds (a compare-and-set on `version` decides every change):
// - the primary assigns serial numbers, appends to its prepared log, sends
//   prepare to every secondary (the whole log tail after what the peer is known
//   to have), and commits an entry only when every replica of the configuration
//   (itself included, after its own fsync) holds it durably; it applies in
//   order and replies. The commit point rides on every prepare.
// - a secondary accepts prepares from its configuration's primary only,
//   applies up to the commit point, and acknowledges after its fsync.
// - leases: every prepare (an empty one is a beacon, sent when the channel was
//   idle for `beaconInterval`) carries the primary's send time; the ack echoes
//   it; the primary's lease from a secondary ends `lease` after the send time of
//   the last acknowledged prepare. The primary serves reads only while every
//   lease is valid; when one expires it asks the CM to remove that secondary. A
//   secondary that heard nothing from the primary for `grace >= lease` asks the
//   CM to remove the primary and promote itself. Lease time is `now.mono`.
// - a new primary first brings every secondary to its prepared log (they
//   truncate anything beyond it) and commits all of it: only then it serves.
// - a replica outside the configuration asks the primary to catch it up (from a
//   checkpoint plus the log tail); once it holds everything committed, the
//   primary asks the CM to add it (and counts it for commits meanwhile).

import { invariant } from '../util/invariant.js';
import { applyRead, applyUpdate, isUpdate, readKey } from './kv.js';
import type {
  Checkpoint,
  Envelope,
  GroupConfig,
  GroupLayout,
  KvValue,
  LogEntry,
  Now,
  Output,
  PersistRecord,
  PMessage,
  ReplicaDiskState,
  ReplyError,
} from './types.js';

export interface ReplicaOptions {
  readonly id: string;
  readonly group: string;
  /** What the replica's disk holds (EMPTY_DISK for a fresh one). */
  readonly disk: ReplicaDiskState;
  /** The configuration to start from when the disk has none (bootstrap). */
  readonly initialConfig?: GroupConfig;
  readonly now: Now;
  /** The primary's lease from a secondary lasts this long after the send time of the acknowledged prepare. */
  readonly lease: number;
  /** A secondary that heard nothing from the primary for this long asks to replace it. Must be >= lease. */
  readonly grace: number;
  /** An idle channel gets a beacon (an empty prepare) this often; unacknowledged entries are resent with it. */
  readonly beaconInterval: number;
  /** An unanswered CM request is sent again after this long. */
  readonly cmRetry: number;
  /** Take a checkpoint (and drop the log up to it) every this many applied entries. */
  readonly checkpointEvery: number;
  readonly bugs?: ReadonlySet<string>;
}

/** 'recovering': restarted as the configuration's primary, waiting for the CM to give it a fresh version. */
export type Role = 'primary' | 'recovering' | 'secondary' | 'outside';

export interface ReplicaStatus {
  readonly id: string;
  readonly role: Role;
  readonly version: number;
  readonly commit: number;
  readonly logEnd: number;
  readonly checkpoint: number;
  readonly serving: boolean;
  readonly reconciled: boolean;
  /** False after a restart until the CM answered. */
  readonly confirmed: boolean;
  readonly deposing: number | null;
  /** The primary's non-member peers being caught up. */
  readonly learners: readonly string[];
  readonly cmPending: boolean;
}

interface Peer {
  next: number;
  match: number;
  /** Send time (lease clock) of the latest acknowledged prepare. */
  ackedSentAt: number;
  lastSent: number;
  /** When we last heard from it (lease clock), to forget a silent learner. */
  heardAt: number;
}

interface PrimaryState {
  reconciled: boolean;
  /** The prepared log end when this replica became primary: commit it before serving. */
  readonly target: number;
  /** When it became primary (lease clock): a secondary is not reported before `lease` has passed. */
  readonly since: number;
  readonly peers: Map<string, Peer>;
  readonly replies: Map<number, { client: string; id: string }>;
  /**
   * Learners whose addition the CM was asked for at the current version: any
   * of them may already be a member there (and could even be promoted), so
   * each counts for commits and leases until we learn the next configuration.
   */
  readonly pendingAdds: Set<string>;
}

export class PacificaReplica {
  readonly id: string;
  readonly group: string;
  private readonly o: ReplicaOptions;
  private readonly bugs: ReadonlySet<string>;
  private readonly grace: number;

  private config: GroupConfig | null;
  private checkpoint: Checkpoint;
  private log: LogEntry[];
  private commit: number;
  private applied: number;
  private kv: Record<string, KvValue>;
  /** Log end known durable (the driver reported it). */
  private durable: number;

  private p: PrimaryState | null = null;
  private lastHeard: number;
  private cmPending: { rid: string; at: number; reconfigure: boolean } | null = null;
  private cmCount = 0;
  private lastJoin = Number.NEGATIVE_INFINITY;
  /**
   * False after a restart until the CM has answered us: a reconfigure we asked
   * for before the crash may have been applied since (an addition whose new
   * member was then promoted, say). A restarted primary also must not assign
   * serial numbers under its old version again (acknowledgements of entries it
   * lost in the crash may still be in flight): it asks the CM for a fresh
   * version (a compare-and-set to the same layout) and reconciles under it.
   */
  private confirmed: boolean;
  /**
   * The version at which we asked the CM to replace our primary: from then on we
   * ignore that primary (no acknowledgement may renew its lease), until we learn
   * the next configuration.
   */
  private deposing: number | null;

  private out: { persist: PersistRecord[]; messages: Envelope[]; early: Envelope[]; log: boolean } = { persist: [], messages: [], early: [], log: false };

  constructor(o: ReplicaOptions) {
    this.o = o;
    this.id = o.id;
    this.group = o.group;
    this.bugs = o.bugs ?? new Set();
    invariant(o.lease > 0 && o.beaconInterval > 0 && o.beaconInterval < o.lease, 'pacifica: need 0 < beaconInterval < lease');
    invariant(o.grace >= o.lease, () => `pacifica: grace ${o.grace} must be >= lease ${o.lease}`);
    this.grace = this.bugs.has('short-grace') ? Math.floor(o.lease / 2) : o.grace;
    const d = o.disk;
    this.checkpoint = d.checkpoint;
    this.log = [...d.entries];
    this.log.forEach((e, i) => invariant(e.sn === d.checkpoint.sn + 1 + i, () => `pacifica ${o.id}: stored log not contiguous at ${e.sn}`));
    this.kv = { ...d.checkpoint.kv };
    this.applied = d.checkpoint.sn;
    this.commit = d.checkpoint.sn;
    this.durable = this.logEnd();
    this.config = d.config;
    this.confirmed = d.config === null;
    this.deposing = d.deposing;
    this.lastHeard = this.clock(o.now);
    this.advanceCommitTo(Math.min(d.commit, this.logEnd()));
    if (this.config === null && o.initialConfig !== undefined) this.adopt(o.initialConfig, o.now);
  }

  // ------------------------------------------------------------- read-only

  role(): Role {
    if (this.p !== null) return 'primary';
    if (this.config?.primary === this.id) return 'recovering';
    return this.isMember() ? 'secondary' : 'outside';
  }

  currentConfig(): GroupConfig | null {
    return this.config;
  }

  commitSn(): number {
    return this.commit;
  }

  logEnd(): number {
    return this.checkpoint.sn + this.log.length;
  }

  checkpointSn(): number {
    return this.checkpoint.sn;
  }

  entryAt(sn: number): LogEntry | undefined {
    return this.log[sn - this.checkpoint.sn - 1];
  }

  /** The committed (applied) value of a key. */
  committedValue(key: string): KvValue {
    return readKey(this.kv, key);
  }

  /** A plain summary, for drivers, logs and tests. */
  status(now: Now): ReplicaStatus {
    const p = this.p;
    return {
      id: this.id,
      role: this.role(),
      version: this.config?.version ?? 0,
      commit: this.commit,
      logEnd: this.logEnd(),
      checkpoint: this.checkpoint.sn,
      serving: this.serving(now),
      reconciled: p?.reconciled ?? false,
      confirmed: this.confirmed,
      deposing: this.deposing,
      learners: p === null ? [] : [...p.peers.keys()].filter((id) => !this.config!.secondaries.includes(id)),
      cmPending: this.cmPending !== null,
    };
  }

  reconciled(): boolean {
    return this.p?.reconciled ?? false;
  }

  /** Would this replica answer a read right now? (the primary, a member, reconciled, every lease valid) */
  serving(now: Now): boolean {
    const p = this.p;
    if (p === null || !this.isMember() || !p.reconciled || !this.confirmed) return false;
    if (this.bugs.has('read-without-lease')) return true;
    const t = this.clock(now);
    // A learner whose addition is pending may already be a member at the CM (and could be
    // promoted there): its lease counts too, until the CM answers.
    const holders = [...this.config!.secondaries, ...p.pendingAdds];
    for (const s of holders) {
      const peer = p.peers.get(s);
      if (peer === undefined || !(t < peer.ackedSentAt + this.o.lease)) return false;
    }
    return true;
  }

  // ------------------------------------------------------------- input

  tick(now: Now): void {
    const t = this.clock(now);
    const cfg = this.config;
    if (cfg === null) return;
    if (!this.confirmed) {
      if (!this.cmIdle(now)) return;
      if (cfg.primary === this.id) return this.askCm({ primary: this.id, secondaries: cfg.secondaries }, now);
      this.askConfig(now);
    }
    const p = this.p;
    if (p !== null) {
      for (const [id, peer] of p.peers) {
        if (t - peer.lastSent < this.o.beaconInterval) continue;
        if (peer.match < this.logEnd()) peer.next = peer.match + 1; // resend what was not acknowledged
        this.replicate(id, peer, now);
      }
      if (this.cmIdle(now)) {
        // A secondary whose lease expired: stop serving (serving() says so) and ask to remove it.
        const expired = cfg.secondaries.find((s) => t >= Math.max(p.peers.get(s)!.ackedSentAt, p.since) + this.o.lease);
        if (expired !== undefined) {
          this.askCm({ primary: this.id, secondaries: cfg.secondaries.filter((s) => s !== expired) }, now);
        } else if (p.reconciled) {
          // A caught-up learner: ask to add it (again the same one, if we asked before at this
          // version), and count it for commits and leases until the next configuration.
          // Only a learner that acknowledged within a lease: adding one whose lease is already
          // expired would stop us serving until we removed it again.
          const ready = [...p.peers].filter(([id, peer]) => !cfg.secondaries.includes(id) && peer.match >= this.commit).map(([id]) => id);
          const add = ready.find((id) => p.pendingAdds.has(id)) ?? ready[0];
          if (add !== undefined) {
            p.pendingAdds.add(add);
            this.askCm({ primary: this.id, secondaries: [...cfg.secondaries, add] }, now);
          }
        }
      }
      // A learner that went silent is forgotten (it will ask again).
      for (const [id, peer] of p.peers) {
        if (!cfg.secondaries.includes(id) && !p.pendingAdds.has(id) && t - peer.heardAt > 4 * this.grace) p.peers.delete(id);
      }
      return;
    }
    if (this.isMember()) {
      if (t - this.lastHeard >= this.grace && this.cmIdle(now)) {
        if (this.deposing !== cfg.version) {
          this.deposing = cfg.version;
          this.persist({ kind: 'deposing', version: cfg.version });
        }
        // Sent after the record is durable: a restart must not forget that we asked.
        this.askCm({ primary: this.id, secondaries: cfg.secondaries.filter((s) => s !== this.id) }, now, true);
      }
      return;
    }
    // Outside the configuration: ask its primary to catch us up; if no primary answers for a
    // grace period, our configuration may be stale: ask the CM.
    if (t - this.lastHeard >= this.grace && this.cmIdle(now)) this.askConfig(now);
    if (now.mono - this.lastJoin >= this.o.beaconInterval) {
      this.lastJoin = now.mono;
      this.send(cfg.primary, { kind: 'join', group: this.group, version: cfg.version }, true);
    }
  }

  step(env: Envelope, now: Now): void {
    const m = env.msg;
    invariant(m.group === this.group, () => `pacifica ${this.id}: message for group ${m.group}, replica of ${this.group}`);
    switch (m.kind) {
      case 'prepare':
        return this.onPrepare(env.from, m, now);
      case 'ack':
        return this.onAck(env.from, m, now);
      case 'join':
        return this.onJoin(env.from, m, now);
      case 'request':
        return this.onRequest(env.from, m, now);
      case 'cm-config':
        if (this.cmPending !== null && m.rid === this.cmPending.rid) {
          // Confirmed after a restart: by a configuration that does not make us primary, or by a
          // fresh version we just won. A configuration naming us primary that we did not win
          // since the restart is our previous life's: its version may have assigned serial
          // numbers we lost, so we ask for a new one (next tick).
          if (m.config.primary !== this.id || (m.ok && this.cmPending.reconfigure)) this.confirmed = true;
          this.cmPending = null;
        }
        this.adopt(m.config, now);
        return;
      case 'reply':
      case 'cm-get':
      case 'cm-reconfigure':
        return; // not addressed to replicas
    }
  }

  /** The driver made `out.persist` durable (and is about to send `out.messages`). */
  persisted(out: Output, _now: Now): void {
    if (out.logEnd !== null) this.durable = out.logEnd;
    if (this.p !== null) this.advanceCommit();
  }

  takeOutput(): Output | null {
    const o = this.out;
    if (o.persist.length === 0 && o.messages.length === 0 && o.early.length === 0) return null;
    this.out = { persist: [], messages: [], early: [], log: false };
    return { persist: o.persist, messages: o.messages, early: o.early, logEnd: o.log ? this.logEnd() : null };
  }

  // ------------------------------------------------------------- configuration

  private isMember(): boolean {
    const c = this.config;
    return c !== null && (c.primary === this.id || c.secondaries.includes(this.id));
  }

  private adopt(config: GroupConfig, now: Now): void {
    if (this.config !== null && config.version <= this.config.version) return;
    const wasPrimary = this.p !== null;
    const before = this.config;
    this.config = config;
    this.persist({ kind: 'config', config });
    this.cmPending = null;
    this.deposing = null;
    if (config.primary === this.id) {
      if (!wasPrimary) {
        if (this.confirmed) this.becomePrimary(now);
      } else {
        // Our own change (a secondary removed or added): keep the peers' state and leases.
        const p = this.p!;
        // An addition we asked for either is in this configuration or can no longer happen
        // (it expected an older version).
        p.pendingAdds.clear();
        // A removed secondary is forgotten: its match point is stale, and keeping it as a learner
        // would have us ask to add it back at once (and remove it again when its lease is found
        // expired, and so on). If it is alive it learns its removal and asks to join.
        for (const s of before?.secondaries ?? []) if (!config.secondaries.includes(s)) p.peers.delete(s);
        for (const s of config.secondaries) if (!p.peers.has(s)) p.peers.set(s, newPeer(this.commit, this.clock(now)));
      }
      return;
    }
    this.p = null; // replies still owed to clients are dropped: their outcome is unknown
    this.lastHeard = this.clock(now);
  }

  private becomePrimary(now: Now): void {
    const cfg = this.config!;
    const t = this.clock(now);
    const peers = new Map<string, Peer>();
    for (const s of cfg.secondaries) peers.set(s, newPeer(this.commit, t));
    this.p = {
      reconciled: this.bugs.has('no-reconciliation'),
      target: this.logEnd(),
      since: t,
      peers,
      replies: new Map(),
      pendingAdds: new Set(),
    };
    for (const [id, peer] of peers) this.replicate(id, peer, now);
    this.advanceCommit();
  }

  private cmIdle(now: Now): boolean {
    return this.cmPending === null || now.mono - this.cmPending.at >= this.o.cmRetry;
  }

  private askConfig(now: Now): void {
    const rid = `${this.id}/${this.group}/${++this.cmCount}`;
    this.cmPending = { rid, at: now.mono, reconfigure: false };
    this.send('cm', { kind: 'cm-get', group: this.group, rid }, true);
  }

  private askCm(config: GroupLayout, now: Now, afterPersist = false): void {
    const rid = `${this.id}/${this.group}/${++this.cmCount}`;
    this.cmPending = { rid, at: now.mono, reconfigure: true };
    this.send('cm', { kind: 'cm-reconfigure', group: this.group, rid, expectedVersion: this.config!.version, config }, !afterPersist);
  }

  // ------------------------------------------------------------- primary

  private replicate(id: string, peer: Peer, now: Now): void {
    const cfg = this.config!;
    const t = this.clock(now);
    let checkpoint: Checkpoint | null = null;
    if (peer.next - 1 < this.checkpoint.sn) {
      checkpoint = this.checkpoint;
      peer.next = this.checkpoint.sn + 1;
    }
    const prevSn = peer.next - 1;
    const entries = this.log.slice(prevSn - this.checkpoint.sn);
    peer.next = this.logEnd() + 1;
    peer.lastSent = t;
    const msg: PMessage = {
      kind: 'prepare',
      group: this.group,
      config: cfg,
      prevSn,
      prevVersion: this.versionAt(prevSn),
      entries,
      commit: this.commit,
      sentAt: t,
      checkpoint,
    };
    // A prepare promises nothing about our own disk: it leaves at once, in parallel with our
    // fsync (we count ourselves for a commit only once the driver says the entries are durable).
    this.send(id, msg, true);
  }

  private onAck(from: string, m: Extract<PMessage, { kind: 'ack' }>, now: Now): void {
    const p = this.p;
    if (p === null || m.version !== this.config!.version) return;
    const peer = p.peers.get(from);
    if (peer === undefined) return;
    if (m.sentAt > peer.ackedSentAt) peer.ackedSentAt = m.sentAt;
    peer.heardAt = this.clock(now);
    if (m.ok) {
      if (m.match > peer.match) peer.match = m.match;
      if (peer.next <= peer.match) peer.next = peer.match + 1;
      this.advanceCommit();
    } else {
      peer.next = m.match + 1;
      this.replicate(from, peer, now);
    }
  }

  private onJoin(from: string, m: Extract<PMessage, { kind: 'join' }>, now: Now): void {
    const p = this.p;
    if (p === null || this.config!.secondaries.includes(from) || from === this.id || p.peers.has(from)) return;
    if (m.version > this.config!.version) return;
    // A learner: caught up as a non-member, acknowledged entries count nowhere until the CM adds it.
    p.peers.set(from, newPeer(this.commit, this.clock(now)));
  }

  private advanceCommit(): void {
    const p = this.p!;
    const cfg = this.config!;
    // The primary counts itself only for what it has made durable (the driver said so).
    const self = this.bugs.has('ack-before-fsync') ? this.logEnd() : this.durable;
    let c: number;
    if (this.bugs.has('commit-on-majority')) {
      const acks = [self, ...cfg.secondaries.map((s) => p.peers.get(s)!.match)].sort((a, b) => b - a);
      c = acks[Math.floor(acks.length / 2)];
    } else {
      c = self;
      for (const s of cfg.secondaries) c = Math.min(c, p.peers.get(s)!.match);
      for (const s of p.pendingAdds) c = Math.min(c, p.peers.get(s)!.match);
    }
    this.advanceCommitTo(Math.min(c, this.logEnd()));
    if (!p.reconciled && this.commit >= p.target) p.reconciled = true;
  }

  private onRequest(from: string, m: Extract<PMessage, { kind: 'request' }>, now: Now): void {
    const p = this.p;
    const reject = (error: ReplyError) =>
      this.send(from, { kind: 'reply', group: this.group, id: m.id, ok: false, error, config: this.config ?? undefined }, true);
    if (p === null || !this.isMember()) return reject('not-primary');
    if (m.version !== this.config!.version) return reject('stale-version');
    if (!isUpdate(m.op)) {
      if (!this.serving(now)) return reject('not-primary');
      this.send(from, { kind: 'reply', group: this.group, id: m.id, ok: true, value: applyRead(this.kv, m.op) }, true);
      return;
    }
    if (!p.reconciled || !this.confirmed) return reject('not-primary');
    const entry: LogEntry = { sn: this.logEnd() + 1, version: this.config!.version, id: m.id, op: m.op };
    this.log.push(entry);
    this.persist({ kind: 'entry', entry });
    p.replies.set(entry.sn, { client: from, id: m.id });
    for (const [id, peer] of p.peers) this.replicate(id, peer, now);
    this.advanceCommit();
  }

  // ------------------------------------------------------------- secondary

  private onPrepare(from: string, m: Extract<PMessage, { kind: 'prepare' }>, now: Now): void {
    const c = m.config;
    if (c.primary !== from || from === this.id) return;
    if (this.config !== null && c.version < this.config.version) return; // a deposed primary: its leases run out
    this.adopt(c, now);
    if (this.p !== null || this.deposing === c.version) return;
    this.lastHeard = this.clock(now);
    const ackEarly = this.bugs.has('ack-before-fsync');
    const nack = () => this.send(from, { kind: 'ack', group: this.group, version: c.version, ok: false, match: this.commit, sentAt: m.sentAt }, true);

    if (m.checkpoint !== null && m.checkpoint.sn > this.commit) {
      // Catch-up from the primary's checkpoint: everything we hold is replaced.
      this.checkpoint = m.checkpoint;
      this.log = [];
      this.kv = { ...m.checkpoint.kv };
      this.applied = this.commit = m.checkpoint.sn;
      this.persist({ kind: 'checkpoint', checkpoint: m.checkpoint });
      this.persist({ kind: 'truncate', after: m.checkpoint.sn });
    }
    const prevSn = m.prevSn;
    if (prevSn > this.logEnd()) return nack();
    if (prevSn > this.commit && this.versionAt(prevSn) !== m.prevVersion) return nack();
    for (const e of m.entries) {
      if (e.sn <= this.checkpoint.sn) continue;
      if (e.sn <= this.logEnd()) {
        if (this.versionAt(e.sn) === e.version) continue;
        this.truncateAfter(e.sn - 1);
      }
      invariant(e.sn === this.logEnd() + 1, () => `pacifica ${this.id}: entry ${e.sn} after log end ${this.logEnd()}`);
      this.log.push(e);
      this.persist({ kind: 'entry', entry: e });
    }
    const end = prevSn + m.entries.length;
    // Reconciliation: what we hold beyond the primary's prepared log, from older primaries, goes.
    if (end >= this.commit && this.logEnd() > end && this.versionAt(end + 1) < c.version) this.truncateAfter(end);
    this.advanceCommitTo(Math.min(m.commit, end));
    this.send(from, { kind: 'ack', group: this.group, version: c.version, ok: true, match: end, sentAt: m.sentAt }, ackEarly);
  }

  private truncateAfter(sn: number): void {
    invariant(sn >= this.commit, () => `pacifica ${this.id}: truncating after ${sn} would drop committed entries (commit ${this.commit})`);
    this.log.length = sn - this.checkpoint.sn;
    this.persist({ kind: 'truncate', after: sn });
  }

  // ------------------------------------------------------------- shared

  private advanceCommitTo(sn: number): void {
    if (sn <= this.commit) return;
    invariant(sn <= this.logEnd(), () => `pacifica ${this.id}: commit ${sn} beyond log end ${this.logEnd()}`);
    this.commit = sn;
    this.persist({ kind: 'commit', sn });
    while (this.applied < this.commit) {
      const e = this.entryAt(this.applied + 1)!;
      const r = applyUpdate(this.kv, e.op);
      this.applied++;
      const owed = this.p?.replies.get(e.sn);
      if (owed !== undefined) {
        this.p!.replies.delete(e.sn);
        // Early: the entry is durable on every replica of the configuration (that is what
        // committed means here); the commit record only saves work after a restart, and
        // reconciliation re-commits what every replica holds, so the reply need not wait for it.
        this.send(
          owed.client,
          { kind: 'reply', group: this.group, id: owed.id, ok: r.ok, error: r.ok ? undefined : r.error, sn: e.sn, entryVersion: e.version },
          true,
        );
      }
    }
    if (this.applied - this.checkpoint.sn >= this.o.checkpointEvery) {
      const cp: Checkpoint = { sn: this.applied, version: this.versionAt(this.applied), kv: { ...this.kv } };
      this.log = this.log.slice(cp.sn - this.checkpoint.sn);
      this.checkpoint = cp;
      this.persist({ kind: 'checkpoint', checkpoint: cp });
    }
  }

  private versionAt(sn: number): number {
    if (sn === this.checkpoint.sn) return this.checkpoint.version;
    invariant(sn > this.checkpoint.sn && sn <= this.logEnd(), () => `pacifica ${this.id}: no entry ${sn} (holds ${this.checkpoint.sn + 1}..${this.logEnd()})`);
    return this.entryAt(sn)!.version;
  }

  private clock(now: Now): number {
    return this.bugs.has('wall-clock-lease') ? now.wall : now.mono;
  }

  private persist(r: PersistRecord): void {
    this.out.persist.push(r);
    if (r.kind !== 'config' && r.kind !== 'commit') this.out.log = true;
  }

  private send(to: string, msg: PMessage, early = false): void {
    (early ? this.out.early : this.out.messages).push({ from: this.id, to, msg });
  }
}

/** A peer we know nothing of yet: no lease, nothing matched; resend from our commit point. */
function newPeer(commit: number, t: number): Peer {
  return { next: commit + 1, match: 0, ackedSentAt: Number.NEGATIVE_INFINITY, lastSent: Number.NEGATIVE_INFINITY, heardAt: t };
}
