// A simulated network, generic over the message type (Raft messages in the
// CM simulator; Raft, PacificA and CM-request traffic in the whole-system
// world): every message gets a random delay (so messages are reordered), may
// be lost or duplicated, and is dropped at delivery time if a partition
// separates the two ends. A partition is either sides (the CM simulator's
// splits) or a grudge (the harness's shapes: each node drops what the nodes
// it holds a grudge against send it), so the simulated world takes the very
// partitions the real providers take. A packet fault adds delay, jitter,
// loss, duplication and reordering to what chosen nodes send, as tc netem does.

import type { Prng } from '../util/prng.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly loss: number;
  /** Probability that a message is delivered twice. */
  readonly duplicate: number;
  /** Delays are drawn uniformly from [minDelay, maxDelay] ticks. */
  readonly maxDelay: number;
  readonly minDelay?: number;
}

/** What a packet fault does to one node's outgoing messages (delays in ticks, the rest probabilities). */
export interface LinkFault {
  readonly delay: number;
  readonly jitter: number;
  readonly loss: number;
  readonly duplicate: number;
  /** Sent at once, ahead of the delayed ones. */
  readonly reorder: number;
}

export interface Addressed {
  readonly from: string;
  readonly to: string;
}

interface InFlight<M> {
  readonly at: number;
  readonly msg: M;
}

export class SimNetwork<M extends Addressed> {
  private inFlight: InFlight<M>[] = [];
  /** Partition side per node; nodes on different sides cannot talk. Absent = side 0. */
  private side = new Map<string, number>();
  /** Per receiving node, the senders it drops. */
  private grudge = new Map<string, ReadonlySet<string>>();
  private readonly links = new Map<string, LinkFault>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly rng: Prng,
    private readonly faults: NetworkFaults,
  ) {}

  /**
   * `mayDuplicate` false: a request or its answer, which real transports (TCP) never deliver
   * twice; the draw is made all the same, so the stream of draws does not depend on it.
   */
  send(now: number, msg: M, mayDuplicate = true): void {
    this.sent++;
    const link = this.links.get(msg.from);
    // Without a packet fault on the sender, the draws are exactly those of a network without any.
    if (this.rng.chance(this.faults.loss) || (link !== undefined && this.rng.chance(link.loss))) {
      this.dropped++;
      return;
    }
    const twice = this.rng.chance(this.faults.duplicate) || (link !== undefined && this.rng.chance(link.duplicate));
    const copies = twice && mayDuplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let at = now + this.rng.int(this.faults.minDelay ?? 0, this.faults.maxDelay);
      if (link !== undefined && !this.rng.chance(link.reorder)) at += Math.max(0, link.delay + this.rng.int(-link.jitter, link.jitter));
      this.inFlight.push({ at, msg });
    }
  }

  /** Messages due by `now`, in a random order, minus those a partition blocks. */
  due(now: number): M[] {
    const out: InFlight<M>[] = [];
    const later: InFlight<M>[] = [];
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

  connected(a: string, b: string): boolean {
    if (this.grudge.get(b)?.has(a) === true) return false;
    return (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0);
  }

  /** Split the nodes: each listed group becomes its own side; unlisted nodes stay on side 0. */
  partition(groups: readonly (readonly string[])[]): void {
    this.heal();
    groups.forEach((g, i) => g.forEach((id) => this.side.set(id, i + 1)));
  }

  /** Replace any partition with a grudge: `grudge[n]` are the nodes whose messages n drops. */
  setGrudge(grudge: Readonly<Record<string, readonly string[]>>): void {
    this.heal();
    for (const [n, drops] of Object.entries(grudge)) this.grudge.set(n, new Set(drops));
  }

  heal(): void {
    this.side.clear();
    this.grudge.clear();
  }

  partitioned(): boolean {
    return this.side.size > 0 || this.grudge.size > 0;
  }

  /** Replaces any packet fault in force: `fault` on what each of `nodes` sends. */
  setLinkFault(nodes: readonly string[], fault: LinkFault): void {
    this.links.clear();
    for (const n of nodes) this.links.set(n, fault);
  }

  clearLinkFaults(): void {
    this.links.clear();
  }

  pending(): number {
    return this.inFlight.length;
  }
}
