// A data server as a real process component: one PacificaReplica per
// replication group it hosts, each writing through its group's store of one
// ReplicaLog (DATA/: one log for all of them, so that one disk write carries
// every group's records of a flush), a DataTransport shared by all of them,
// the OS clocks, and a CmClient for what the replicas ask of the
// configuration manager.
//
// It drives the replica's Output contract (../pacifica/types.ts) exactly:
//   `early` messages leave at once; `persist` goes to the log, whose group
//   commit folds every write queued (by any replica) during one append into
//   the next; once a
//   write is durable its Output's `messages` leave and `replica.persisted` is
//   called — strictly in Output order (an Output without records still waits
//   for the ones before it: an acknowledgement may cover entries they hold).
// While a write is in flight the replica keeps being stepped (PacificA allows
// it; the primary counts itself for a commit only once told what is durable).
//
// Replica <-> CM: a replica's `cm-get`/`cm-reconfigure` become CmClient calls
// whose answers come back as `cm-config`; an unknown outcome feeds nothing (the
// replica asks again after cmRetry). The server also polls the CM for every
// group's configuration and feeds a newer one to its replica, so a removed
// replica learns it and a new configuration reaches every member.
//
// A protocol invariant failure or a failed disk write stops the node
// (fail-stop: its state can no longer be trusted); garbage from the network
// never does.

import pino, { type Logger } from 'pino';
import type { GroupConfig } from '../cm/state.js';
import { keysOf } from '../pacifica/kv.js';
import { groupOf, initialLayout } from '../pacifica/placement.js';
import { PacificaReplica } from '../pacifica/replica.js';
import type { ClientOp, Envelope, Now, Output, PMessage, PersistRecord } from '../pacifica/types.js';
import { CmClient, type CmResponse, type GetResponse } from './client.js';
import { coalescePrepares } from './coalesce.js';
import { DataTransport } from './data-transport.js';
import { ReplicaLog, type ReplicaStore } from './replica-disk.js';
import { bindAddressFor, parseAddress } from './transport.js';

export interface DataServerOptions {
  readonly id: string;
  /** HOST:PORT to listen on (port 0 picks a free one: see `port`). */
  readonly listen: string;
  /** The address others reach this server at (registered with the CM; default: `listen` with the bound port). */
  readonly advertise?: string;
  /** CM node addresses. */
  readonly cm: readonly string[];
  readonly dataDir: string;
  /** Every data server of the layout (this one included). */
  readonly servers: readonly string[];
  readonly groups: number;
  readonly replication: number;
  readonly leaseMs?: number;
  readonly graceMs?: number;
  readonly beaconMs?: number;
  readonly tickMs?: number;
  /** How often the CM is polled for the groups' configurations. */
  readonly pollMs?: number;
  readonly checkpointEvery?: number;
  /** How often the `stats` line is logged. */
  readonly statsMs?: number;
  readonly fsync?: boolean;
  readonly bugs?: ReadonlySet<string>;
  readonly logger?: Logger;
  /** Called after the node stopped on a violated invariant or a disk failure (the process should exit non-zero). */
  readonly onFatal?: (err: unknown) => void;
}

interface Hosted {
  readonly group: string;
  readonly replica: PacificaReplica;
  readonly store: ReplicaStore;
  /** Outputs taken from the replica, in order; `durable` once their records (and every earlier Output's) are on disk. */
  readonly queue: { out: Output; durable: boolean }[];
  /** The latest commit record not yet written (see drain). */
  heldCommit: PersistRecord | null;
  /** When the replica last wrote to its disk (performance.now()): a held commit is written once it has been idle a while. */
  lastWriteAt: number;
  /** Counters for the periodic `stats` log line. */
  readonly counts: { diskWrites: number; records: number; entries: number; steps: number };
  lastRole: string;
  /** The last tick that found the replica serving reads as primary: its configuration version and instant (see `MonoSpan`). */
  lastServing: { version: number; at: MonoSpan } | null;
}

/**
 * An instant on the host's CLOCK_MONOTONIC (process.hrtime, shared by every
 * process of the host and never stepped; libfaketime's clock faults leave it
 * alone), in ms, as [a reading just before, a reading just after]: the
 * instant of a tick's `now()` lies within. The `role` lines carry it so that a
 * check over every node's log can tell, for certain, that an older primary of
 * a group still served after a newer one had served (adapters/reference/logs.ts).
 */
export type MonoSpan = readonly [number, number];

const monoNs = (): bigint => process.hrtime.bigint();

const now = (): Now => ({ mono: performance.now(), wall: Date.now() });

/** A held commit point is written on its own only after the replica wrote nothing for this long. */
const HELD_COMMIT_IDLE_MS = 100;

export class DataServer {
  private readonly log: Logger;
  private readonly transport: DataTransport;
  private readonly cm: CmClient;
  private readonly hosted = new Map<string, Hosted>();
  private addresses: Record<string, string> = {};
  private ticker: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  private polling = false;
  private readonly dirty = new Set<Hosted>();
  private drainScheduled = false;
  private statsAt = performance.now();
  /** The log's append count at the last `stats` line. */
  private appendsAt = 0;
  /** Every hosted replica's storage: one log (replica-disk.ts), opened at bootstrap. */
  private disk: ReplicaLog | null = null;
  private stopped = false;
  private readonly serverSet: ReadonlySet<string>;
  port = 0;
  /** Resolves once the server registered, the groups exist and its replicas are open. */
  ready: Promise<void> = Promise.resolve();

  private constructor(private readonly o: DataServerOptions) {
    this.log = (o.logger ?? pino({ base: { node: o.id } })).child({ service: 'data' });
    this.serverSet = new Set(o.servers);
    const listen = parseAddress(o.listen);
    this.transport = new DataTransport({
      id: o.id,
      listen,
      resolve: (id) => this.addresses[id],
      isPeer: (id) => this.serverSet.has(id) || this.addresses[id] !== undefined,
      logger: this.log,
      onEnvelopes: (envs) => this.guard(() => this.onEnvelopes(envs)),
    });
    this.cm = new CmClient(o.cm, { timeoutMs: 2000, attemptMs: 700, localAddress: bindAddressFor(listen.host) });
  }

  static async start(o: DataServerOptions): Promise<DataServer> {
    const s = new DataServer(o);
    s.port = await s.transport.start();
    const listen = parseAddress(o.listen);
    const advertise = o.advertise ?? `${listen.host}:${s.port}`;
    s.log.info(
      {
        event: 'start',
        listen: o.listen,
        port: s.port,
        groups: o.groups,
        replication: o.replication,
        servers: o.servers,
        bugs: [...(o.bugs ?? [])],
        fsync: o.fsync !== false,
      },
      'data server started',
    );
    s.ready = s.bootstrap(advertise);
    // A replica whose storage cannot be opened (unreadable, corrupt beyond its tail) stops the node.
    s.ready.catch((e: unknown) =>
      s.guard(() => {
        if (!s.stopped) throw e;
      }),
    );
    return s;
  }

  /** Stop serving. Everything acknowledged is already on disk; pending clients get no answer. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    if (this.poller !== null) clearInterval(this.poller);
    this.cm.close();
    await this.transport.close();
    // Waits for the writes in flight; a write after this fails, which guard() ignores once stopped.
    await this.disk?.close();
    this.log.info({ event: 'stop' }, 'data server stopped');
  }

  /** Each hosted replica's status (for tests and logs). */
  status(): Record<string, ReturnType<PacificaReplica['status']>> {
    const t = now();
    return Object.fromEntries([...this.hosted].map(([g, h]) => [g, h.replica.status(t)]));
  }

  // ------------------------------------------------------------ bootstrap and the CM

  /** Register, create the layout once (idempotent), open the replicas; retried until the CM answers. */
  private async bootstrap(advertise: string): Promise<void> {
    // Open (recover) the storage first: a log that cannot be read stops the node before it registers.
    const disk = await ReplicaLog.open(this.o.dataDir, { fsync: this.o.fsync !== false, checkpointEvery: this.o.checkpointEvery ?? 5000 });
    if (this.stopped) {
      await disk.close();
      throw new Error('stopped');
    }
    this.disk = disk;
    const retry = async (what: string, f: () => Promise<CmResponse>, done: (r: CmResponse) => boolean): Promise<CmResponse> => {
      for (let attempt = 0; ; attempt++) {
        if (this.stopped) throw new Error('stopped');
        const r = await f();
        if (done(r)) return r;
        if (attempt % 20 === 19) this.log.warn({ event: 'cm-retry', what, result: r }, `still trying: ${what}`);
        await sleep(100);
      }
    };
    await retry(
      'registerServer',
      () => this.cm.request({ op: 'registerServer', id: this.o.id, address: advertise }),
      (r) => r.ok,
    );
    const layout = initialLayout(this.o.servers, this.o.groups, this.o.replication);
    // Every server asks; the first wins and the others get group-exists. `unknown-server`: not all registered yet.
    await retry(
      'createGroups',
      () => this.cm.request({ op: 'createGroups', groups: layout }),
      (r) => r.ok || r.error === 'group-exists',
    );
    const got = await retry(
      'get',
      () => this.cm.request({ op: 'get' }),
      (r) => r.ok,
    );
    this.onCmState(got as unknown as GetResponse, layout);
    this.ticker = setInterval(() => this.guard(() => this.onTick()), this.o.tickMs ?? 20);
    this.poller = setInterval(() => void this.poll(), this.o.pollMs ?? 150);
    this.log.info({ event: 'ready', groups: [...this.hosted.keys()] }, 'replicas open');
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const r = await this.cm.request({ op: 'get' });
      if (r.ok && !this.stopped) this.onCmState(r as unknown as GetResponse);
    } catch (e) {
      this.guard(() => {
        throw e;
      });
    } finally {
      this.polling = false;
    }
  }

  /** Learn addresses; open replicas for groups we belong to; feed newer configurations. */
  private onCmState(st: GetResponse, layout?: Record<string, { primary: string; secondaries: readonly string[] }>): void {
    this.addresses = Object.fromEntries(Object.values(st.servers).map((s) => [s.id, s.address]));
    for (const [g, cfg] of Object.entries(st.groups)) {
      const h = this.hosted.get(g);
      if (h !== undefined) {
        if (cfg.version > (h.replica.currentConfig()?.version ?? 0))
          this.guard(() => this.deliver(h, { from: 'cm', to: this.o.id, msg: { kind: 'cm-config', group: g, rid: null, ok: true, config: cfg } }));
        continue;
      }
      const inLayout = layout?.[g] !== undefined && [layout[g].primary, ...layout[g].secondaries].includes(this.o.id);
      const member = cfg.primary === this.o.id || cfg.secondaries.includes(this.o.id);
      if (inLayout || member) this.open(g, cfg);
    }
  }

  /** Host a replica of `group` on its store of the (already recovered) log. */
  private open(group: string, cfg: GroupConfig): void {
    if (this.stopped || this.disk === null) return;
    const store = this.disk.replica(group);
    const lease = this.o.leaseMs ?? 1000;
    const grace = this.o.graceMs ?? 1500;
    const replica = new PacificaReplica({
      id: this.o.id,
      group,
      disk: store.state,
      // A fresh disk starts from what the CM holds now (version 1 at bootstrap; a later one makes it a learner).
      initialConfig: cfg,
      now: now(),
      lease,
      grace,
      beaconInterval: this.o.beaconMs ?? 200,
      cmRetry: grace,
      checkpointEvery: this.o.checkpointEvery ?? 5000,
      bugs: this.o.bugs,
    });
    const h: Hosted = {
      group,
      replica,
      store,
      queue: [],
      heldCommit: null,
      lastWriteAt: 0,
      lastRole: '',
      lastServing: null,
      counts: { diskWrites: 0, records: 0, entries: 0, steps: 0 },
    };
    this.hosted.set(group, h);
    const st = replica.status(now());
    this.log.info(
      { event: 'replica-open', group, role: st.role, version: st.version, commit: st.commit, logEnd: st.logEnd, checkpoint: st.checkpoint },
      `replica of ${group} open`,
    );
    this.guard(() => this.drain(h));
  }

  private async askCm(h: Hosted, m: Extract<PMessage, { kind: 'cm-get' | 'cm-reconfigure' }>): Promise<void> {
    const r =
      m.kind === 'cm-get'
        ? await this.cm.request({ op: 'get', group: m.group })
        : await this.cm.request({ op: 'reconfigure', group: m.group, expectedVersion: m.expectedVersion, config: m.config });
    if (this.stopped) return;
    let config: GroupConfig | undefined;
    if (r.ok) config = m.kind === 'cm-get' ? (r as unknown as GetResponse).groups[m.group] : (r.group as GroupConfig | undefined);
    else config = r.group; // version-mismatch (and bad layouts) carry the current configuration
    if (m.kind === 'cm-reconfigure')
      this.log.info(
        { event: 'cm-reconfigure', group: m.group, expectedVersion: m.expectedVersion, want: m.config, ok: r.ok, error: r.ok ? undefined : r.error, config },
        'reconfigure',
      );
    // No configuration: the outcome is unknown (timeout, no leader); the replica asks again.
    if (config === undefined) return;
    this.guard(() => this.deliver(h, { from: 'cm', to: this.o.id, msg: { kind: 'cm-config', group: m.group, rid: m.rid, ok: r.ok, config } }));
  }

  // ------------------------------------------------------------ inputs

  private onTick(): void {
    const t = now();
    if (t.mono - this.statsAt >= (this.o.statsMs ?? 10_000)) {
      this.statsAt = t.mono;
      // Batching at a glance: per group, its disk writes (write() calls), entries and inputs stepped;
      // appends: the log's writes that remained after group commit, for every group together (each one O_DSYNC write).
      const appends = (this.disk?.stats.appends ?? 0) - this.appendsAt;
      this.appendsAt += appends;
      const groups = Object.fromEntries([...this.hosted].map(([g, h]) => [g, { ...h.counts, commit: h.replica.commitSn(), role: h.replica.role() }]));
      // The groups this server served as primary at the last tick (a node killed while serving logs no end of it).
      const serving = Object.fromEntries([...this.hosted].filter(([, h]) => h.lastServing !== null).map(([g, h]) => [g, h.lastServing]));
      this.log.info({ event: 'stats', appends, groups, serving }, 'stats');
      for (const h of this.hosted.values()) Object.assign(h.counts, { diskWrites: 0, records: 0, entries: 0, steps: 0 });
    }
    for (const h of this.hosted.values()) {
      h.replica.tick(t);
      this.drain(h);
      if (h.heldCommit !== null && h.queue.length === 0 && t.mono - h.lastWriteAt >= HELD_COMMIT_IDLE_MS) {
        // Idle: write the held commit point now (a restart then has less to reconcile). Under load the
        // next write carries it; writing it on every tick would cost a disk write per tick per group.
        const r = h.heldCommit;
        h.heldCommit = null;
        h.lastWriteAt = t.mono;
        h.store.write([r]).catch((e: unknown) =>
          this.guard(() => {
            throw new Error(`disk write failed for ${h.group}: ${e instanceof Error ? e.message : String(e)}`);
          }),
        );
      }
      // The status at a fresh instant, read between two readings of the monotonic clock (nothing changes the
      // replica in between): whether a read at that instant would be served, and when that instant was.
      const before = monoNs();
      const st = h.replica.status(now());
      const after = monoNs();
      // Microseconds, rounded outwards: the instant stays within.
      const at: MonoSpan = [Number(before / 1000n) / 1000, Number((after + 999n) / 1000n) / 1000];
      const role = `${st.role}@${st.version}${st.serving ? '+serving' : ''}`;
      const served = h.lastServing;
      if (role !== h.lastRole) {
        h.lastRole = role;
        const cfg = h.replica.currentConfig();
        // `at`: this tick's instant; `servedUntil`: the last tick that found it serving, when it served before this change.
        this.log.info(
          {
            event: 'role',
            group: h.group,
            role: st.role,
            version: st.version,
            serving: st.serving,
            commit: st.commit,
            config: cfg,
            at,
            ...(served !== null ? { servedUntil: served } : {}),
          },
          `${h.group}: ${role}`,
        );
      }
      h.lastServing = st.serving ? { version: st.version, at } : null;
    }
  }

  private onEnvelopes(envs: readonly Envelope[]): void {
    const t = now();
    for (const env of envs) {
      const m = env.msg;
      const h = this.hosted.get(m.group);
      if (m.kind === 'request') {
        const bad = h === undefined ? 'not-primary' : this.checkRequest(m);
        if (bad !== null) {
          this.transport.send({
            from: this.o.id,
            to: env.from,
            msg: { kind: 'reply', group: m.group, id: typeof m.id === 'string' ? m.id : '', ok: false, error: bad },
          });
          continue;
        }
      } else if (!this.transportPeer(env.from) || !isPeerMessage(m)) {
        // Replies and CM traffic never come from the network; peer traffic must be well formed
        // (the protocol code asserts its invariants: garbage must not reach it and stop the node).
        this.log.warn({ event: 'bad-message', from: env.from, kind: m.kind }, 'dropping a malformed or unexpected message');
        continue;
      }
      if (h === undefined) continue;
      h.replica.step(env, t);
      h.counts.steps++;
      this.touch(h);
    }
  }

  /**
   * Drain a replica once per turn of the event loop, after every connection's input of that
   * turn was stepped: requests from many clients then share one Output (one disk write, and
   * prepares that coalesce into one per peer).
   */
  private touch(h: Hosted): void {
    this.dirty.add(h);
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      const hs = [...this.dirty];
      this.dirty.clear();
      for (const x of hs) this.guard(() => this.drain(x));
      // What the drains produced (replies, prepares, acks) leaves now, one frame per connection.
      this.transport.flush();
    });
  }

  private transportPeer(id: string): boolean {
    return id !== this.o.id && (this.serverSet.has(id) || this.addresses[id] !== undefined);
  }

  /** Client input is untrusted: check its shape (and that its keys are this group's) before a replica sees it. */
  private checkRequest(m: Extract<PMessage, { kind: 'request' }>): 'bad-request' | null {
    if (typeof m.id !== 'string' || !Number.isSafeInteger(m.version) || !isClientOp(m.op)) return 'bad-request';
    for (const k of keysOf(m.op)) if (groupOf(k, this.o.groups) !== m.group) return 'bad-request';
    return null;
  }

  private deliver(h: Hosted, env: Envelope): void {
    h.replica.step(env, now());
    this.drain(h);
  }

  // ------------------------------------------------------------ the Output contract

  /** Take every Output: early messages now, records to the disk, the rest once durable and in order. */
  private drain(h: Hosted): void {
    for (let out = h.replica.takeOutput(); out !== null; out = h.replica.takeOutput()) {
      for (const e of coalescePrepares(out.early)) this.send(h, e);
      let persist = out.persist;
      if (out.messages.length === 0 && persist.length > 0 && persist.every((r) => r.kind === 'commit')) {
        // Only a commit point moved (the primary after acknowledgements): nothing waits on it, and
        // recovery does not need it (reconciliation re-commits what every replica holds), so it
        // rides with the next write instead of costing an fsync of its own.
        h.heldCommit = persist[persist.length - 1];
        persist = [];
      } else if (persist.length > 0 && h.heldCommit !== null) {
        persist = [h.heldCommit, ...persist];
        h.heldCommit = null;
      }
      const entry = { out, durable: persist.length === 0 };
      h.queue.push(entry);
      if (persist.length > 0) {
        h.lastWriteAt = performance.now();
        h.counts.diskWrites++;
        h.counts.records += persist.length;
        for (const r of persist) if (r.kind === 'entry') h.counts.entries++;
        h.store.write(persist).then(
          () => {
            entry.durable = true;
            this.guard(() => this.complete(h));
          },
          (e: unknown) =>
            this.guard(() => {
              throw new Error(`disk write failed for ${h.group}: ${e instanceof Error ? e.message : String(e)}`);
            }),
        );
      }
    }
    this.complete(h);
  }

  /** Send the messages of every leading durable Output and tell the replica. */
  private complete(h: Hosted): void {
    let any = false;
    while (h.queue.length > 0 && h.queue[0].durable) {
      const { out } = h.queue.shift()!;
      for (const e of out.messages) this.send(h, e);
      h.replica.persisted(out, now());
      any = true;
    }
    if (any) this.drain(h);
  }

  private send(h: Hosted, env: Envelope): void {
    const m = env.msg;
    if (env.to === 'cm') {
      if (m.kind === 'cm-get' || m.kind === 'cm-reconfigure') void this.askCm(h, m);
      return;
    }
    this.transport.send(env);
  }

  /** Run an input handler; a protocol invariant failure stops the node (fail-stop). */
  private guard(f: () => void): void {
    if (this.stopped) return;
    try {
      f();
    } catch (e) {
      // kind: the error's class (DiskCorruptError: damaged data refused), for the log checks.
      this.log.fatal({ event: 'fatal', kind: e instanceof Error ? e.name : typeof e, err: e instanceof Error ? e.message : String(e) }, 'stopping');
      void this.stop().then(() => this.o.onFatal?.(e));
    }
  }
}

const int = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isConfig = (c: unknown): boolean => {
  const x = c as GroupConfig;
  return typeof x === 'object' && x !== null && int(x.version) && key(x.primary) && Array.isArray(x.secondaries) && x.secondaries.every(key);
};

/** The shape of a replica-to-replica message, and entries contiguous from prevSn (see PacificaReplica.onPrepare). */
export function isPeerMessage(m: PMessage): boolean {
  const x = m as unknown as Record<string, unknown>;
  switch (m.kind) {
    case 'prepare': {
      if (!isConfig(x.config) || !int(x.prevSn) || !int(x.prevVersion) || !int(x.commit) || typeof x.sentAt !== 'number' || !Array.isArray(x.entries))
        return false;
      const cp = x.checkpoint as Record<string, unknown> | null;
      if (cp !== null && (typeof cp !== 'object' || !int(cp.sn) || !int(cp.version) || typeof cp.kv !== 'object' || cp.kv === null)) return false;
      return (x.entries as unknown[]).every((e, i) => {
        const y = e as Record<string, unknown>;
        return (
          typeof y === 'object' &&
          y !== null &&
          y.sn === m.prevSn + 1 + i &&
          int(y.version) &&
          typeof y.id === 'string' &&
          isClientOp(y.op) &&
          y.op.f !== 'read' &&
          y.op.f !== 'read-many'
        );
      });
    }
    case 'ack':
      return int(x.version) && typeof x.ok === 'boolean' && int(x.match) && typeof x.sentAt === 'number';
    case 'join':
      return int(x.version);
    default:
      return false;
  }
}

const scalar = (x: unknown): x is number | string => (typeof x === 'number' && Number.isFinite(x)) || typeof x === 'string';
const key = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 1024;

export function isClientOp(x: unknown): x is ClientOp {
  const op = x as Record<string, unknown>;
  if (typeof op !== 'object' || op === null) return false;
  switch (op.f) {
    case 'read':
      return key(op.key);
    case 'read-many':
      return Array.isArray(op.keys) && op.keys.length > 0 && op.keys.length <= 10_000 && op.keys.every(key);
    case 'write':
    case 'append':
      return key(op.key) && scalar(op.value);
    case 'cas':
      return key(op.key) && (op.from === null || scalar(op.from)) && scalar(op.to);
    case 'transfer':
      return key(op.from) && key(op.to) && typeof op.amount === 'number' && Number.isSafeInteger(op.amount) && op.amount >= 0;
    default:
      return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
