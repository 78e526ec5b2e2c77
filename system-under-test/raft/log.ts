// The in-memory Raft log of one node: a snapshot (the compacted prefix) followed
// by contiguous entries, plus how much of it is known to be on disk
// (`stableIndex`). Entries past stableIndex are handed out in the next Ready.

import { invariant } from '../util/invariant.js';
import type { Entry, Membership, Snapshot } from './types.js';

export class RaftLog {
  private snap: Snapshot;
  private entries: Entry[];
  /** Highest index known durable on this node's disk. */
  private stable: number;

  constructor(snapshot: Snapshot, entries: readonly Entry[]) {
    this.snap = snapshot;
    this.entries = [...entries];
    this.checkContiguous(this.entries, snapshot.index + 1, snapshot.term);
    this.stable = this.lastIndex();
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  firstIndex(): number {
    return this.snap.index + 1;
  }

  lastIndex(): number {
    return this.snap.index + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.snap.term : this.entries[this.entries.length - 1].term;
  }

  stableIndex(): number {
    return this.stable;
  }

  /** The term of entry i, or undefined when i is compacted away or beyond the log. */
  term(i: number): number | undefined {
    if (i === this.snap.index) return this.snap.term;
    if (i < this.snap.index || i > this.lastIndex()) return undefined;
    return this.entries[i - this.snap.index - 1].term;
  }

  entry(i: number): Entry {
    invariant(i > this.snap.index && i <= this.lastIndex(), () => `log entry ${i} is not held (have ${this.firstIndex()}..${this.lastIndex()})`);
    return this.entries[i - this.snap.index - 1];
  }

  /** Entries lo..hi inclusive, all of which must be held. */
  slice(lo: number, hi: number): Entry[] {
    if (hi < lo) return [];
    invariant(lo > this.snap.index && hi <= this.lastIndex(), () => `log slice ${lo}..${hi} is not held (have ${this.firstIndex()}..${this.lastIndex()})`);
    return this.entries.slice(lo - this.snap.index - 1, hi - this.snap.index);
  }

  /** Leader append: entries continue the log exactly. */
  append(entries: readonly Entry[]): void {
    this.checkContiguous(entries, this.lastIndex() + 1, this.lastTerm());
    this.entries.push(...entries);
  }

  /**
   * Follower append: drop everything from `entries[0].index` on and append.
   * The caller has checked that nothing committed is dropped.
   */
  truncateAndAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const from = entries[0].index;
    invariant(
      from > this.snap.index && from <= this.lastIndex() + 1,
      () => `truncateAndAppend at ${from} outside ${this.firstIndex()}..${this.lastIndex() + 1}`,
    );
    this.entries.length = from - this.snap.index - 1;
    if (this.stable >= from) this.stable = from - 1;
    this.append(entries);
  }

  /** Replace the whole log by a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    invariant(snapshot.index >= this.snap.index, () => `restore to older snapshot ${snapshot.index} < ${this.snap.index}`);
    this.snap = snapshot;
    this.entries = [];
    // The snapshot itself becomes durable through the Ready; until then, as far
    // as entries go, nothing past it is on disk.
    this.stable = snapshot.index;
  }

  /** Local compaction: drop entries up to snapshot.index, which must be held and durable. */
  compact(snapshot: Snapshot): void {
    invariant(
      snapshot.index > this.snap.index && snapshot.index <= this.stable,
      () => `compact to ${snapshot.index} outside (${this.snap.index}, stable ${this.stable}]`,
    );
    invariant(this.term(snapshot.index) === snapshot.term, `compact: snapshot term does not match the log`);
    this.entries = this.entries.slice(snapshot.index - this.snap.index);
    this.snap = snapshot;
  }

  /** Entries not yet handed out for persistence. */
  unstableEntries(): Entry[] {
    return this.slice(this.stable + 1, this.lastIndex());
  }

  /** Called on advance: entries up to `index` (of term `term`) are now durable. */
  markStable(index: number, term: number): void {
    // Ignore if the log changed under us (cannot happen with the Ready contract,
    // but the check keeps stableIndex honest).
    if (this.term(index) === term && index > this.stable) this.stable = index;
  }

  /** The configuration in force at index i: the latest config entry at or before i. */
  configAt(i: number): { config: Membership; index: number } {
    invariant(i >= this.snap.index && i <= this.lastIndex(), () => `configAt(${i}) outside ${this.snap.index}..${this.lastIndex()}`);
    for (let j = i; j > this.snap.index; j--) {
      const e = this.entries[j - this.snap.index - 1];
      if (e.kind === 'config') return { config: e.config, index: j };
    }
    return { config: this.snap.config, index: this.snap.index };
  }

  private checkContiguous(entries: readonly Entry[], firstIndex: number, prevTerm: number): void {
    let term = prevTerm;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      invariant(e.index === firstIndex + k, () => `log entries not contiguous: expected index ${firstIndex + k}, got ${e.index}`);
      invariant(e.term >= term, () => `log terms decrease at index ${e.index}: ${e.term} after ${term}`);
      term = e.term;
    }
  }
}
