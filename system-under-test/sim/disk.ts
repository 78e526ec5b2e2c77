// A simulated disk for one Raft node: exactly what has been durably written.
// A crash keeps this and loses everything else (the node object, and any Ready
// the driver had not yet written).

import type { Entry, HardState, PersistedState, Ready, Snapshot } from '../raft/types.js';
import { invariant } from '../util/invariant.js';

export class SimDisk {
  private hardState: HardState;
  private snapshot: Snapshot;
  private entries: Entry[];

  constructor(initial: PersistedState) {
    this.hardState = initial.hardState;
    this.snapshot = initial.snapshot;
    this.entries = [...initial.entries];
  }

  /** Write a Ready's durable parts, in the order the contract says (snapshot, entries, hard state). */
  write(rd: Ready): void {
    if (rd.snapshot !== null) {
      // A snapshot from the leader replaces the whole log (the node dropped its entries too).
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    if (rd.entries.length > 0) {
      const from = rd.entries[0].index;
      const keep = from - this.snapshot.index - 1;
      invariant(
        keep >= 0 && keep <= this.entries.length,
        () => `disk: append at ${from} leaves a gap (disk holds ${this.snapshot.index + 1}..${this.snapshot.index + this.entries.length})`,
      );
      this.entries.length = keep;
      this.entries.push(...rd.entries);
    }
    if (rd.hardState !== null) this.hardState = rd.hardState;
  }

  /** Write a snapshot made by local compaction and drop the entries it covers. */
  saveSnapshot(s: Snapshot): void {
    invariant(s.index > this.snapshot.index, 'disk: compaction snapshot older than the stored one');
    this.entries = this.entries.filter((e) => e.index > s.index);
    this.snapshot = s;
  }

  load(): PersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }
}
