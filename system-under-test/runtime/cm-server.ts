// A configuration-manager node as a real process component: a CmReplica bound
// to a FileDisk (fsync), a TcpTransport and the OS monotonic clock. It is the
// driver of the Raft Ready contract:
//
//   input (tick, message, client request) -> step the replica, then (batched
//   with setImmediate, so many inputs share one fsync) take the Ready, write
//   it to disk with fsync, send its messages, apply it, answer clients.
//
// Because the disk is synchronous, nothing is stepped between ready() and
// advance(). A protocol invariant failure stops the node (fail-stop: its
// state can no longer be trusted); garbage from the network never does.

import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { CmReplica } from '../cm/replica.js';
import type { CmCommand, CmResult, GroupLayout } from '../cm/state.js';
import { describe as describeConfig } from '../raft/membership.js';
import { initialState, joiningState } from '../raft/node.js';
import type { Message, NodeId, Role } from '../raft/types.js';
import { mulberry32 } from '../util/prng.js';
import type { CmResponse } from './client.js';
import { FileDisk } from './file-disk.js';
import { TcpTransport, parseAddress } from './transport.js';

export interface CmServerOptions {
  readonly id: NodeId;
  /** HOST:PORT to listen on (port 0 picks a free port; see `port`). */
  readonly listen: string;
  /** Addresses of the initial members (the founding voters, self included) or, with `join`, of the current ones. */
  readonly peers: Readonly<Record<NodeId, string>>;
  readonly dataDir: string;
  /** Start with no configuration: wait to be added (as a learner, then a voter) by addMember. */
  readonly join?: boolean;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly requestTimeoutMs?: number;
  readonly compactEvery?: number;
  readonly bugs?: ReadonlySet<string>;
  readonly logger?: Logger;
  /** Called after the node stopped on a violated invariant (the process should exit non-zero). */
  readonly onFatal?: (err: unknown) => void;
}

interface Waiter {
  readonly done: (r: CmResponse) => void;
  readonly timer: NodeJS.Timeout;
}

export class CmServer {
  private readonly log: Logger;
  private readonly disk: FileDisk;
  private readonly replica: CmReplica;
  private readonly transport: TcpTransport;
  private readonly proposals = new Map<string, Waiter>();
  private readonly reads = new Map<string, Waiter & { readonly group?: string }>();
  private readonly nonce = randomBytes(6).toString('hex');
  private seq = 0;
  private ticker: NodeJS.Timeout | null = null;
  private scheduled = false;
  private stopped = false;
  private lastRole: Role | null = null;
  private lastTerm = -1;
  private lastConfig = '';
  port = 0;

  private constructor(private readonly o: CmServerOptions) {
    this.log = (o.logger ?? pino({ base: { node: o.id } })).child({ service: 'cm' });
    const voters = Object.keys(o.peers);
    this.disk = FileDisk.open(o.dataDir, () => (o.join === true ? joiningState() : initialState(voters)));
    const seed = randomBytes(4).readUInt32BE(0);
    this.replica = new CmReplica({
      id: o.id,
      state: this.disk.load(),
      random: mulberry32(seed),
      electionTicks: o.electionTicks ?? 10,
      heartbeatTicks: o.heartbeatTicks ?? 2,
      compactEvery: o.compactEvery ?? 1000,
      bugs: o.bugs,
    });
    this.transport = new TcpTransport({
      id: o.id,
      listen: parseAddress(o.listen),
      resolve: (id) => this.addressOf(id),
      logger: this.log,
      onMessage: (m) => this.guard(() => this.onMessage(m)),
      onRequest: (req, reply) => this.guard(() => this.onRequest(req, reply)),
    });
  }

  static async start(o: CmServerOptions): Promise<CmServer> {
    const s = new CmServer(o);
    s.port = await s.transport.start();
    const st = s.replica.raft.status();
    s.log.info(
      {
        event: 'start',
        listen: o.listen,
        port: s.port,
        term: st.term,
        commit: st.commit,
        lastIndex: st.lastIndex,
        config: describeConfig(st.config),
        bugs: [...(o.bugs ?? [])],
      },
      'cm node started',
    );
    s.ticker = setInterval(() => s.guard(() => s.onTick()), o.tickMs ?? 50);
    s.observe();
    return s;
  }

  /** Stop serving (pending clients get no answer). Everything acknowledged is already on disk. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    for (const w of [...this.proposals.values(), ...this.reads.values()]) clearTimeout(w.timer);
    await this.transport.close();
    this.disk.close();
    this.log.info({ event: 'stop' }, 'cm node stopped');
  }

  status(): ReturnType<CmReplica['raft']['status']> {
    return this.replica.raft.status();
  }

  // ------------------------------------------------------------ inputs

  private onTick(): void {
    this.replica.tick();
    this.schedule();
  }

  private onMessage(m: Message): void {
    this.replica.step(m);
    this.schedule();
  }

  private onRequest(raw: unknown, reply: (r: unknown) => void): void {
    const req = raw as { rid?: unknown; op?: unknown } & Record<string, unknown>;
    const rid = req?.rid;
    const answer = (r: CmResponse): void => reply({ ...r, rid });
    if (typeof req !== 'object' || req === null || typeof req.op !== 'string') {
      answer({ ok: false, error: 'bad-request' });
      return;
    }
    const st = this.replica.raft.status();
    const notLeader = (): void =>
      answer({ ok: false, error: 'not-leader', leader: st.leader, leaderAddress: st.leader === null ? null : (this.addressOf(st.leader) ?? null) });
    switch (req.op) {
      case 'status':
        answer({
          ok: true,
          id: st.id,
          role: st.role,
          term: st.term,
          leader: st.leader,
          leaderAddress: st.leader === null ? null : (this.addressOf(st.leader) ?? null),
          commit: st.commit,
          applied: st.applied,
          lastIndex: st.lastIndex,
          config: st.config,
        });
        return;
      case 'get': {
        const ctx = this.nextId();
        const r = this.replica.read(ctx);
        if (!r.ok) return r.reason === 'not-leader' ? notLeader() : answer({ ok: false, error: r.reason });
        this.wait(this.reads, ctx, answer, typeof req.group === 'string' ? { group: req.group } : {});
        this.schedule();
        return;
      }
      case 'registerServer':
      case 'createGroups':
      case 'reconfigure': {
        const command = validateCommand(req);
        if (command === null) return answer({ ok: false, error: 'bad-request' });
        if (st.role !== 'leader') return notLeader();
        this.propose(command, answer);
        return;
      }
      case 'addMember': {
        if (typeof req.id !== 'string' || typeof req.address !== 'string') return answer({ ok: false, error: 'bad-request' });
        if (st.role !== 'leader') return notLeader();
        const id = req.id;
        // First make the address known to every member, then start the change.
        this.propose({ op: 'registerMember', id, address: req.address }, (r) => {
          if (!r.ok) return answer(r);
          const c = this.replica.addMember(id);
          this.schedule();
          answer(c.ok ? { ok: true } : { ok: false, error: c.reason });
        });
        return;
      }
      case 'removeMember': {
        if (typeof req.id !== 'string') return answer({ ok: false, error: 'bad-request' });
        if (st.role !== 'leader') return notLeader();
        const c = this.replica.removeMember(req.id);
        this.schedule();
        answer(c.ok ? { ok: true } : { ok: false, error: c.reason });
        return;
      }
      default:
        answer({ ok: false, error: 'unknown-op' });
    }
  }

  private propose(command: CmCommand, answer: (r: CmResponse) => void): void {
    const id = this.nextId();
    const r = this.replica.submit({ id, command });
    if (!r.ok) {
      answer({ ok: false, error: r.reason, leader: r.leader, leaderAddress: r.leader === null ? null : (this.addressOf(r.leader) ?? null) });
      return;
    }
    this.wait(this.proposals, id, answer, {}, true);
    this.schedule();
  }

  /** Park a client until its proposal applies or its read is confirmed; a proposal that times out may still commit (unknown). */
  private wait<T extends object>(map: Map<string, Waiter & T>, key: string, answer: (r: CmResponse) => void, extra: T, unknownOnTimeout = false): void {
    const timer = setTimeout(() => {
      map.delete(key);
      answer({ ok: false, error: 'timeout', unknown: unknownOnTimeout });
    }, this.o.requestTimeoutMs ?? 3000);
    map.set(key, { done: answer, timer, ...extra });
  }

  // ------------------------------------------------------------ the Ready loop

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.guard(() => this.process());
    });
  }

  private process(): void {
    if (this.stopped) return;
    for (;;) {
      const rd = this.replica.takeReady();
      if (rd === null) break;
      this.disk.write(rd); // fsync before any message of this Ready leaves
      for (const m of rd.messages) this.transport.send(m);
      const out = this.replica.completeReady(rd);
      if (out.snapshotToSave !== null) this.disk.saveSnapshot(out.snapshotToSave);
      for (const e of rd.committedEntries) {
        if (e.kind === 'command') this.logApplied(e.data);
      }
      for (const { id, result } of out.results) this.finish(this.proposals, id, toResponse(result));
      for (const ctx of out.reads) {
        const w = this.reads.get(ctx);
        if (w === undefined) continue;
        const sm = this.replica.state;
        const groups = w.group === undefined ? { ...sm.groups() } : sm.group(w.group) === undefined ? {} : { [w.group]: sm.group(w.group)! };
        this.finish(this.reads, ctx, { ok: true, groups, servers: { ...sm.servers() } });
      }
    }
    this.observe();
  }

  private finish(map: Map<string, Waiter>, key: string, r: CmResponse): void {
    const w = map.get(key);
    if (w === undefined) return;
    map.delete(key);
    clearTimeout(w.timer);
    w.done(r);
  }

  /** One log line per significant change: role, term, membership. */
  private observe(): void {
    const st = this.replica.raft.status();
    if (st.role !== this.lastRole || st.term !== this.lastTerm) {
      this.log.info({ event: 'role', role: st.role, term: st.term, leader: st.leader }, `${st.role} in term ${st.term}`);
      this.lastRole = st.role;
      this.lastTerm = st.term;
    }
    const c = describeConfig(st.config);
    if (c !== this.lastConfig) {
      this.log.info({ event: 'membership', config: st.config, index: st.configIndex, committed: st.configIndex <= st.commit }, `membership ${c}`);
      this.lastConfig = c;
    }
  }

  private logApplied(data: string): void {
    try {
      const p = JSON.parse(data) as { command?: CmCommand };
      const c = p.command;
      if (c?.op === 'reconfigure' || c?.op === 'createGroups' || c?.op === 'registerServer') {
        const groups =
          c.op === 'reconfigure'
            ? { [c.group]: this.replica.state.group(c.group) }
            : c.op === 'createGroups'
              ? Object.fromEntries(Object.keys(c.groups).map((g) => [g, this.replica.state.group(g)]))
              : undefined;
        this.log.info({ event: 'applied', op: c.op, groups }, `applied ${c.op}`);
      }
    } catch {
      // A command we cannot parse was still applied by the state machine; nothing to log.
    }
  }

  private addressOf(id: NodeId): string | undefined {
    return this.replica.state.memberAddresses()[id] ?? this.o.peers[id];
  }

  private nextId(): string {
    return `${this.o.id}:${this.nonce}:${this.seq++}`;
  }

  /** Run an input handler; a protocol invariant failure stops the node (fail-stop). */
  private guard(f: () => void): void {
    if (this.stopped) return;
    try {
      f();
    } catch (e) {
      // kind: the error's class (DiskCorruptError: damaged data refused), for the log checks.
      this.log.fatal(
        { event: 'fatal', kind: e instanceof Error ? e.name : typeof e, err: e instanceof Error ? e.message : String(e) },
        'invariant violated: stopping',
      );
      void this.stop().then(() => this.o.onFatal?.(e));
    }
  }
}

function toResponse(r: CmResult): CmResponse {
  return r.ok
    ? { ok: true, ...(r.group !== undefined ? { group: r.group } : {}) }
    : { ok: false, error: r.error, ...(r.group !== undefined ? { group: r.group } : {}) };
}

function isLayout(x: unknown): x is GroupLayout {
  const l = x as GroupLayout;
  return (
    typeof l === 'object' && l !== null && typeof l.primary === 'string' && Array.isArray(l.secondaries) && l.secondaries.every((s) => typeof s === 'string')
  );
}

/** Client input is untrusted: check its shape before it enters the log. */
function validateCommand(req: Record<string, unknown>): CmCommand | null {
  switch (req.op) {
    case 'registerServer':
      return typeof req.id === 'string' && typeof req.address === 'string' ? { op: 'registerServer', id: req.id, address: req.address } : null;
    case 'createGroups': {
      const g = req.groups as Record<string, unknown>;
      if (typeof g !== 'object' || g === null || !Object.values(g).every(isLayout)) return null;
      return { op: 'createGroups', groups: g as Record<string, GroupLayout> };
    }
    case 'reconfigure':
      return typeof req.group === 'string' && Number.isSafeInteger(req.expectedVersion) && isLayout(req.config)
        ? { op: 'reconfigure', group: req.group, expectedVersion: req.expectedVersion as number, config: req.config }
        : null;
    default:
      return null;
  }
}
