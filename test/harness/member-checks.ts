// What a run with membership faults must show, for the local and the Docker
// end-to-end tests: every member op that says it changed the membership did
// (its configurations before and after say so), heal-all brought everything
// back, and the CM's own logs end with every group fully replicated.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

interface Layout {
  version: number;
  primary: string;
  secondaries: string[];
}
type Groups = Record<string, Layout>;
interface NemesisOp {
  type: string;
  f: string;
  value: Record<string, unknown> | null;
}

const replicasOf = (g: Layout) => [g.primary, ...g.secondaries];
const holders = (groups: Groups, node: string) => Object.keys(groups).filter((k) => replicasOf(groups[k]).includes(node));

/** Checks every member op of the run; returns how many removals and additions really happened, per role. */
export function expectMembershipChanges(nemesis: NemesisOp[], o: { groups: number; replication: number; cmNodes: string[] }) {
  const done = { removed: { data: 0, 'data-secondary': 0, cm: 0 }, added: { data: 0, cm: 0 } };
  for (const op of nemesis.filter((x) => x.type === 'info' && x.f.startsWith('member-'))) {
    const v = op.value as Record<string, unknown>;
    expect(v, JSON.stringify(op)).toBeTruthy();
    if (v.node === null) continue; // nothing to do (said in v.note)
    const node = v.node as string;
    const role = v.role as 'data' | 'data-secondary' | 'cm';
    if (op.f === 'member-remove' && role === 'data') {
      // It held groups before, the compare-and-sets moved versions on, and it is in none after.
      expect(holders(v.before as Groups, node).length, JSON.stringify(v)).toBeGreaterThan(0);
      expect(v.removed, JSON.stringify(v)).toBe(true);
      expect(holders(v.after as Groups, node)).toEqual([]);
      for (const w of v.won as { group: string; from: number; to: Layout }[]) {
        expect(w.to.version).toBe(w.from + 1);
        expect(replicasOf(w.to)).not.toContain(node);
      }
      done.removed.data++;
    } else if (op.f === 'member-remove' && role === 'data-secondary') {
      // A running server: out of every group where it was a secondary (it may be back already), primaries unchanged.
      const before = v.before as Groups;
      const targets = Object.keys(before).filter((g) => before[g].secondaries.includes(node));
      expect(targets.length, JSON.stringify(v)).toBeGreaterThan(0);
      expect(v.removed, JSON.stringify(v)).toBe(true);
      const out = v.out as Groups;
      expect(Object.keys(out).sort()).toEqual(targets.sort());
      for (const g of targets) expect(replicasOf(out[g])).not.toContain(node);
      for (const w of v.won as { group: string; from: number; to: Layout }[]) {
        expect(w.to.version).toBe(w.from + 1);
        expect(w.to.primary).toBe(before[w.group].primary);
      }
      done.removed['data-secondary']++;
    } else if (op.f === 'member-remove') {
      expect(v.votersBefore, JSON.stringify(v)).toContain(node);
      expect(v.complete, JSON.stringify(v)).toBe(true);
      expect(v.votersAfter).not.toContain(node);
      done.removed.cm++;
    } else if (role === 'data') {
      expect(v.complete, JSON.stringify(v)).toBe(true);
      // A stopped server was out of every group until it came back; a running one may be back already.
      if (v.restarted === true) expect(holders(v.before as Groups, node)).toEqual([]);
      expect(holders(v.after as Groups, node).length).toBe(o.groups);
      for (const g of Object.values(v.after as Groups)) expect(replicasOf(g)).toHaveLength(o.replication);
      done.added.data++;
    } else {
      expect(v.complete, JSON.stringify(v)).toBe(true);
      // Only membership faults in these runs: every removal completed, so the node came back on an empty disk.
      expect(v.wiped, JSON.stringify(v)).toBe(true);
      expect(v.votersBefore).not.toContain(node);
      expect([...(v.votersAfter as string[])].sort()).toEqual(o.cmNodes);
      done.added.cm++;
    }
  }
  // heal-all brought back whatever was still out, and saw full replication.
  const heal = nemesis.filter((x) => x.type === 'info' && x.f === 'heal-all').at(-1)!;
  const m = (heal.value as { membership?: { fullyReplicated: boolean; groups: Groups; cmVoters: string[]; restored: Record<string, unknown>[] } }).membership;
  expect(m, JSON.stringify(heal)).toBeTruthy();
  expect(m!.fullyReplicated, JSON.stringify(m)).toBe(true);
  expect(Object.keys(m!.groups)).toHaveLength(o.groups);
  for (const g of Object.values(m!.groups)) expect(replicasOf(g)).toHaveLength(o.replication);
  expect([...m!.cmVoters].sort()).toEqual(o.cmNodes);
  for (const r of m!.restored) expect(r.complete, JSON.stringify(r)).toBe(true);
  return done;
}

/**
 * The CM's own record: across its nodes' logs, the newest configuration each
 * group was given (highest version applied) names `replication` servers, and
 * every CM node's last membership line has all the members as voters.
 */
export function expectFullyReplicatedInLogs(runDir: string, o: { groups: number; replication: number; cmNodes: string[] }) {
  const newest: Record<string, Layout> = {};
  const lastMembership: Record<string, { voters: string[]; outgoing: string[] }> = {};
  for (const node of readdirSync(join(runDir, 'nodes')).filter((n) => o.cmNodes.includes(n))) {
    for (const line of readFileSync(join(runDir, 'nodes', node, `${node}.log`), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      const e = JSON.parse(line) as { event?: string; groups?: Record<string, Layout | null>; config?: { voters: string[]; outgoing: string[] } };
      if (e.event === 'applied' && e.groups) {
        for (const [g, c] of Object.entries(e.groups)) if (c && (newest[g] === undefined || c.version > newest[g].version)) newest[g] = c;
      }
      if (e.event === 'membership' && e.config) lastMembership[node] = e.config;
    }
  }
  expect(Object.keys(newest)).toHaveLength(o.groups);
  for (const [g, c] of Object.entries(newest)) expect(replicasOf(c), `${g} at version ${c.version}`).toHaveLength(o.replication);
  for (const n of o.cmNodes) {
    expect([...lastMembership[n].voters].sort(), n).toEqual(o.cmNodes);
    expect(lastMembership[n].outgoing, n).toEqual([]);
  }
  return newest;
}

/** Each CM node that the nemesis brought back wiped has a `start` in its log on an empty disk with no configuration (--join). */
export function expectJoinedOnEmptyDisk(runDir: string, nemesis: NemesisOp[]): number {
  const wiped = nemesis
    .filter((x) => x.type === 'info' && (x.f === 'member-add' || x.f === 'heal-all'))
    .flatMap((x) => {
      const v = x.value as Record<string, unknown> | null;
      const adds = x.f === 'heal-all' ? ((v?.membership as { restored?: Record<string, unknown>[] } | undefined)?.restored ?? []) : v ? [v] : [];
      return adds.filter((a) => a.role === 'cm' && a.wiped === true).map((a) => a.node as string);
    });
  for (const node of new Set(wiped)) {
    const starts = readFileSync(join(runDir, 'nodes', node, `${node}.log`), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"start"'))
      .map((l) => JSON.parse(l) as { config: string; lastIndex: number });
    expect(starts.length, node).toBeGreaterThanOrEqual(2);
    expect(
      starts.slice(1).some((st) => st.config === '[]' && st.lastIndex === 0),
      node,
    ).toBe(true);
  }
  return wiped.length;
}
