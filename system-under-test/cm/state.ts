// The configuration manager's replicated state machine: which data servers
// exist, and per replication group its configuration {version, primary,
// secondaries}. It is applied from committed Raft entries, in log order, on
// every CM node; it must therefore be deterministic and plain data. A snapshot
// is simply the JSON of the state.

import { invariant } from '../util/invariant.js';
import type { Entry, Membership, NodeId, Snapshot } from '../raft/types.js';

/** Seeded defects of the CM state machine (see ../BUGS.md). */
export const CM_BUGS = ['cm-no-version-check'] as const;

export interface ServerInfo {
  readonly id: string;
  readonly address: string;
}

export interface GroupLayout {
  readonly primary: string;
  readonly secondaries: readonly string[];
}

export interface GroupConfig extends GroupLayout {
  readonly version: number;
}

export type CmCommand =
  /** Announce (or re-announce with a new address) a data server. */
  | { readonly op: 'registerServer'; readonly id: string; readonly address: string }
  /** Bootstrap: create groups at version 1. All-or-nothing; fails if any group exists. */
  | { readonly op: 'createGroups'; readonly groups: Readonly<Record<string, GroupLayout>> }
  /** Compare-and-set on the group's version: succeeds only if it is still expectedVersion. */
  | { readonly op: 'reconfigure'; readonly group: string; readonly expectedVersion: number; readonly config: GroupLayout }
  /** Record the network address of a CM member, before it is added to the Raft configuration. */
  | { readonly op: 'registerMember'; readonly id: NodeId; readonly address: string };

/** What a client submits: the command plus an id that names its result. */
export interface CmProposal {
  readonly id: string;
  readonly command: CmCommand;
}

export type CmError = 'version-mismatch' | 'no-such-group' | 'group-exists' | 'unknown-server' | 'bad-config';

export type CmResult = { readonly ok: true; readonly group?: GroupConfig } | { readonly ok: false; readonly error: CmError; readonly group?: GroupConfig };

export interface CmData {
  servers: Record<string, ServerInfo>;
  groups: Record<string, GroupConfig>;
  /** The CM's own Raft configuration as of `applied`, and the members' addresses. */
  members: Membership;
  memberAddresses: Record<NodeId, string>;
  /** Index of the last applied log entry. */
  applied: number;
}

export interface CmOptions {
  readonly bugs?: ReadonlySet<string>;
}

export class CmStateMachine {
  private data: CmData;
  private readonly bugs: ReadonlySet<string>;

  private constructor(data: CmData, opts: CmOptions) {
    this.data = data;
    this.bugs = opts.bugs ?? new Set();
  }

  static empty(opts: CmOptions = {}): CmStateMachine {
    return new CmStateMachine(emptyData(), opts);
  }

  /** Rebuild from a Raft snapshot (data '' is the empty state of a freshly bootstrapped cluster). */
  static fromSnapshot(snapshot: Snapshot, opts: CmOptions = {}): CmStateMachine {
    if (snapshot.data === '') {
      return new CmStateMachine({ ...emptyData(), members: snapshot.config, applied: snapshot.index }, opts);
    }
    const data = JSON.parse(snapshot.data) as CmData;
    invariant(typeof data === 'object' && data !== null && typeof data.applied === 'number', 'CM snapshot data is not a CM state');
    invariant(data.applied === snapshot.index, () => `CM snapshot data is at index ${data.applied}, the snapshot at ${snapshot.index}`);
    return new CmStateMachine(data, opts);
  }

  serialize(): string {
    return JSON.stringify(this.data);
  }

  applied(): number {
    return this.data.applied;
  }

  /**
   * Apply the next committed entry. Returns the proposal's id and result for
   * command entries, null for no-ops and configuration entries.
   */
  applyEntry(e: Entry): { id: string; result: CmResult } | null {
    invariant(e.index === this.data.applied + 1, () => `CM applies entry ${e.index} after ${this.data.applied}: entries must be applied in order, once`);
    this.data.applied = e.index;
    if (e.kind === 'noop') return null;
    if (e.kind === 'config') {
      this.data.members = e.config;
      return null;
    }
    const p = JSON.parse(e.data) as CmProposal;
    return { id: p.id, result: this.execute(p.command) };
  }

  group(name: string): GroupConfig | undefined {
    return this.data.groups[name];
  }

  groups(): Readonly<Record<string, GroupConfig>> {
    return this.data.groups;
  }

  servers(): Readonly<Record<string, ServerInfo>> {
    return this.data.servers;
  }

  members(): Membership {
    return this.data.members;
  }

  memberAddresses(): Readonly<Record<NodeId, string>> {
    return this.data.memberAddresses;
  }

  private execute(c: CmCommand): CmResult {
    switch (c.op) {
      case 'registerServer':
        this.data.servers[c.id] = { id: c.id, address: c.address };
        return { ok: true };
      case 'registerMember':
        this.data.memberAddresses[c.id] = c.address;
        return { ok: true };
      case 'createGroups': {
        const names = Object.keys(c.groups).sort();
        for (const g of names) {
          if (this.data.groups[g] !== undefined) return { ok: false, error: 'group-exists', group: this.data.groups[g] };
          const bad = this.checkLayout(c.groups[g]);
          if (bad !== null) return { ok: false, error: bad };
        }
        for (const g of names) this.data.groups[g] = { version: 1, ...copyLayout(c.groups[g]) };
        return { ok: true };
      }
      case 'reconfigure': {
        const cur = this.data.groups[c.group];
        if (cur === undefined) return { ok: false, error: 'no-such-group' };
        // The compare-and-set: of two requests made against the same version,
        // the first to be applied wins and moves the version on; the second fails.
        if (cur.version !== c.expectedVersion && !this.bugs.has('cm-no-version-check')) {
          return { ok: false, error: 'version-mismatch', group: cur };
        }
        const bad = this.checkLayout(c.config);
        if (bad !== null) return { ok: false, error: bad, group: cur };
        const next: GroupConfig = { version: cur.version + 1, ...copyLayout(c.config) };
        this.data.groups[c.group] = next;
        return { ok: true, group: next };
      }
    }
  }

  private checkLayout(l: GroupLayout): CmError | null {
    if (typeof l.primary !== 'string' || l.primary === '' || !Array.isArray(l.secondaries)) return 'bad-config';
    const all = [l.primary, ...l.secondaries];
    if (new Set(all).size !== all.length) return 'bad-config';
    for (const s of all) if (this.data.servers[s] === undefined) return 'unknown-server';
    return null;
  }
}

function emptyData(): CmData {
  return { servers: {}, groups: {}, members: { voters: [], outgoing: [], learners: [] }, memberAddresses: {}, applied: 0 };
}

function copyLayout(l: GroupLayout): GroupLayout {
  return { primary: l.primary, secondaries: [...l.secondaries] };
}
