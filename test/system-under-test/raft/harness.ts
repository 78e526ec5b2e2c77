// A tiny deterministic driver for unit tests of the Raft state machine: an
// in-memory disk per node and a FIFO network the test controls message by
// message. (The randomized simulator lives in system-under-test/sim.)

import { RaftNode, initialState, joiningState } from '../../../system-under-test/raft/node.js';
import type { Entry, Message, NodeId, PersistedState, ReadState, Ready } from '../../../system-under-test/raft/types.js';
import { SimDisk } from '../../../system-under-test/sim/disk.js';
import { mulberry32 } from '../../../system-under-test/util/prng.js';

export interface TestNode {
  raft: RaftNode;
  disk: SimDisk;
  applied: Entry[];
  reads: ReadState[];
  readies: Ready[];
}

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Messages for which this returns false are dropped. */
  filter: (m: Message) => boolean = () => true;
  private seed = 1;

  constructor(
    voters: readonly NodeId[],
    readonly opts: { electionTicks?: number; heartbeatTicks?: number; bugs?: ReadonlySet<string>; maxEntriesPerAppend?: number } = {},
  ) {
    for (const id of voters) this.add(id, initialState(voters));
  }

  add(id: NodeId, state: PersistedState = joiningState()): TestNode {
    const n: TestNode = { raft: this.make(id, state), disk: new SimDisk(state), applied: [], reads: [], readies: [] };
    this.nodes.set(id, n);
    return n;
  }

  private make(id: NodeId, state: PersistedState): RaftNode {
    return new RaftNode({
      id,
      state,
      random: mulberry32(this.seed++),
      electionTicks: this.opts.electionTicks ?? 10,
      heartbeatTicks: this.opts.heartbeatTicks ?? 2,
      bugs: this.opts.bugs,
      maxEntriesPerAppend: this.opts.maxEntriesPerAppend,
    });
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: NodeId): RaftNode {
    return this.node(id).raft;
  }

  /** Persist, send and apply every node's Ready (the driver side of the contract). */
  flush(): void {
    for (const n of this.nodes.values()) {
      while (n.raft.hasReady()) {
        const rd = n.raft.ready();
        n.readies.push(rd);
        n.disk.write(rd);
        for (const m of rd.messages) if (this.filter(m)) this.queue.push(m);
        n.applied.push(...rd.committedEntries);
        n.reads.push(...rd.readStates);
        n.raft.advance(rd);
      }
    }
  }

  /** Deliver queued messages (and the ones they cause) until the network is quiet. */
  deliverAll(limit = 10_000): void {
    this.flush();
    let steps = 0;
    while (this.queue.length > 0) {
      if (++steps > limit) throw new Error('network did not quiesce');
      const m = this.queue.shift()!;
      const n = this.nodes.get(m.to);
      if (n === undefined || !this.filter(m)) continue;
      n.raft.step(m);
      this.flush();
    }
  }

  tick(ids: readonly NodeId[] = [...this.nodes.keys()], times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const id of ids) this.raft(id).tick();
      this.deliverAll();
    }
  }

  /** Tick `id` alone until it campaigns, then let the election finish. */
  elect(id: NodeId): void {
    for (let i = 0; i < 100 && this.raft(id).status().role !== 'leader'; i++) {
      this.raft(id).tick();
      this.deliverAll();
    }
    if (this.raft(id).status().role !== 'leader') throw new Error(`${id} did not become leader`);
  }

  /** Crash: the node object is gone, the disk stays; restart from the disk. */
  restart(id: NodeId): RaftNode {
    const n = this.node(id);
    n.raft = this.make(id, n.disk.load());
    n.applied = [];
    return n.raft;
  }

  commands(id: NodeId): string[] {
    return this.node(id).applied.flatMap((e) => (e.kind === 'command' ? [e.data] : []));
  }
}
