// A simulated network: every message gets a random delay (so messages are
// reordered), may be lost or duplicated, and is dropped at delivery time if a
// partition separates the two ends or the receiver is down.

import type { Message, NodeId } from '../raft/types.js';
import type { Prng } from '../util/prng.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly loss: number;
  /** Probability that a message is delivered twice. */
  readonly duplicate: number;
  /** Delays are drawn uniformly from [0, maxDelay] ticks. */
  readonly maxDelay: number;
}

interface InFlight {
  readonly at: number;
  readonly msg: Message;
}

export class SimNetwork {
  private inFlight: InFlight[] = [];
  /** Partition side per node; nodes on different sides cannot talk. Absent = side 0. */
  private side = new Map<NodeId, number>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly rng: Prng,
    private readonly faults: NetworkFaults,
  ) {}

  send(now: number, msg: Message): void {
    this.sent++;
    if (this.rng.chance(this.faults.loss)) {
      this.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.inFlight.push({ at: now + this.rng.int(0, this.faults.maxDelay), msg });
    }
  }

  /** Messages due by `now`, in a random order, minus those a partition blocks. */
  due(now: number): Message[] {
    const out: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.inFlight) (f.at <= now ? out : later).push(f);
    this.inFlight = later;
    // Fisher-Yates with the seeded PRNG: reordering among simultaneous arrivals.
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.rng.int(0, i);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out
      .filter((f) => {
        const ok = this.connected(f.msg.from, f.msg.to);
        if (!ok) this.dropped++;
        return ok;
      })
      .map((f) => f.msg);
  }

  connected(a: NodeId, b: NodeId): boolean {
    return (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0);
  }

  /** Split the nodes: each listed group becomes its own side; unlisted nodes stay on side 0. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.side.clear();
    groups.forEach((g, i) => g.forEach((id) => this.side.set(id, i + 1)));
  }

  heal(): void {
    this.side.clear();
  }

  partitioned(): boolean {
    return this.side.size > 0;
  }

  pending(): number {
    return this.inFlight.length;
  }
}
