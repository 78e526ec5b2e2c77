// Fault coverage: what a run's faults achieved, as the system reports it.
// The harness samples its SystemView (who leads, who serves each group)
// during the run; the nemesis ops in the history say what was done to the
// nodes; the adapter's log checks add what only the system knows (lease
// expiries, elections). A run whose faults changed no primary and no leader
// says so: a fault schedule that never forces a failover tests little.
//
// Plain functions over plain data, so that `undertow analyze` recomputes the
// same numbers from a stored run folder.

import type { History, Value } from '../../history/types.js';
import { NEMESIS } from '../../history/types.js';

/** One answer of the system's view: who led, who served each group (null: the view did not answer). */
export interface ViewSample {
  /** Nanoseconds since the test's start (the history's clock). */
  readonly t: number;
  readonly leader: string | null;
  readonly groups: readonly { readonly group: string; readonly primary: string; readonly secondaries: readonly string[] }[] | null;
}

/** What the faults did to the nodes, from the nemesis ops' completions. */
export interface FaultCounts {
  kills: number;
  /** Killed nodes started again (by `start` or `heal-all`). */
  restarts: number;
  pauses: number;
  partitions: number;
  /** Clock bumps and strobes. */
  clock: number;
  /** Membership removals and additions done. */
  member: number;
}

export interface Coverage {
  /** View samples taken, and how many of them the view did not answer at all. */
  samples: number;
  unanswered: number;
  /** Changes of the leader (the CM leader, the Raft leader) between consecutive answers. */
  leaderChanges: number;
  /** Every node seen leading, in order of first sight. */
  leaders: string[];
  /** Primary changes per group (a group whose primary never changed has 0). */
  primaryChanges: Record<string, number>;
  primaryChangesTotal: number;
  /** A node left a group's replicas (primary and secondaries); a node came back to a group it had left. */
  membersRemoved: number;
  membersReadded: number;
  faults: FaultCounts;
  /** What the system's logs say (the adapter's log checks): lease expiries, elections, ... */
  system: Record<string, number>;
  /** Each change as seen, in order (the first MAX_CHANGES): seconds since the test's start, and what changed. */
  changes: { t: number; what: string }[];
  /** No primary, no leader and no group's replicas changed. */
  achievedNothing: boolean;
  /** The one line the console prints. */
  line: string;
}

/**
 * Changes between consecutive known values: unknowns (null, '') are skipped,
 * so A, unknown, A is no change and A, unknown, B is one.
 */
export function countChanges(xs: readonly (string | null | undefined)[]): number {
  let last: string | null = null;
  let n = 0;
  for (const x of xs) {
    if (x === null || x === undefined || x === '') continue;
    if (last !== null && x !== last) n++;
    last = x;
  }
  return n;
}

/** Drops samples equal to the one before (all that counting needs): what a run folder keeps. */
export function distinctSamples(samples: readonly ViewSample[]): ViewSample[] {
  const out: ViewSample[] = [];
  let last = '';
  for (const s of samples) {
    const key = JSON.stringify([s.leader, s.groups]);
    if (key !== last) out.push(s);
    last = key;
  }
  return out;
}

/** How many changes `Coverage.changes` lists. */
export const MAX_CHANGES = 200;

/** Leader, primary and membership changes over a run's view samples. */
export function roleChanges(
  samples: readonly ViewSample[],
): Pick<Coverage, 'leaderChanges' | 'leaders' | 'primaryChanges' | 'primaryChangesTotal' | 'membersRemoved' | 'membersReadded' | 'changes'> {
  const leaders: string[] = [];
  const changes: { t: number; what: string }[] = [];
  const seen = (t: number, what: string) => changes.push({ t: Math.round(t / 1e6) / 1e3, what });
  let lastLeader: string | null = null;
  for (const s of samples) {
    if (s.leader === null || s.leader === '') continue;
    if (!leaders.includes(s.leader)) leaders.push(s.leader);
    if (lastLeader !== null && s.leader !== lastLeader) seen(s.t, `leader ${lastLeader} -> ${s.leader}`);
    lastLeader = s.leader;
  }
  const names = [...new Set(samples.flatMap((s) => (s.groups ?? []).map((g) => g.group)))].sort();
  const primaryChanges: Record<string, number> = {};
  let membersRemoved = 0;
  let membersReadded = 0;
  for (const name of names) {
    const roles = samples.map((s) => (s.groups === null ? null : (s.groups.find((g) => g.group === name) ?? null)));
    primaryChanges[name] = countChanges(roles.map((r) => r?.primary ?? null));
    // Membership: compare each answer with the previous known one.
    let prev: Set<string> | null = null;
    let lastPrimary = '';
    const left = new Set<string>();
    roles.forEach((r, i) => {
      if (r === null) return;
      const t = samples[i].t;
      if (r.primary !== '') {
        if (lastPrimary !== '' && r.primary !== lastPrimary) seen(t, `${name}: primary ${lastPrimary} -> ${r.primary}`);
        lastPrimary = r.primary;
      }
      const now = new Set([r.primary, ...r.secondaries].filter((x) => x !== ''));
      if (prev !== null) {
        for (const n of prev)
          if (!now.has(n)) {
            membersRemoved++;
            left.add(n);
            seen(t, `${name}: ${n} removed`);
          }
        for (const n of now)
          if (!prev.has(n) && left.has(n)) {
            membersReadded++;
            left.delete(n);
            seen(t, `${name}: ${n} re-added`);
          }
      }
      prev = now;
    });
  }
  return {
    leaderChanges: countChanges(samples.map((s) => s.leader)),
    leaders,
    primaryChanges,
    primaryChangesTotal: Object.values(primaryChanges).reduce((a, b) => a + b, 0),
    membersRemoved,
    membersReadded,
    changes: changes.sort((a, b) => a.t - b.t).slice(0, MAX_CHANGES),
  };
}

const obj = (v: Value): Record<string, Value> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : null);
const listLength = (v: Value | undefined): number => (Array.isArray(v) ? v.length : 0);

/** What the nemesis did, from its completions in the history (a fault that found no node does not count). */
export function faultCounts(history: History): FaultCounts {
  const c: FaultCounts = { kills: 0, restarts: 0, pauses: 0, partitions: 0, clock: 0, member: 0 };
  for (const op of history) {
    if (op.process !== NEMESIS || op.type === 'invoke' || op.error !== undefined) continue;
    const v = obj(op.value);
    if (v === null) continue;
    switch (op.f) {
      case 'kill':
        if (typeof v.node === 'string') c.kills++;
        break;
      case 'pause':
        if (typeof v.node === 'string') c.pauses++;
        break;
      case 'start':
        c.restarts += listLength(v.nodes);
        break;
      case 'heal-all':
        c.restarts += listLength(v.started);
        break;
      case 'partition':
        c.partitions++;
        break;
      case 'clock-bump':
      case 'clock-strobe':
        c.clock++;
        break;
      case 'member-remove':
      case 'member-add':
        if (typeof v.node === 'string') c.member++;
        break;
      default:
    }
  }
  return c;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Coverage of a run: its view samples (all taken, or only the distinct ones), its history, the system's own counts. */
export function coverageOf(o: {
  samples: readonly ViewSample[];
  /** Samples taken, when `samples` holds only the distinct ones. */
  taken?: number;
  unanswered?: number;
  history: History;
  system?: Readonly<Record<string, number>>;
}): Coverage {
  const roles = roleChanges(o.samples);
  const faults = faultCounts(o.history);
  const system = { ...(o.system ?? {}) };
  const samples = o.taken ?? o.samples.length;
  const unanswered = o.unanswered ?? o.samples.filter((s) => s.leader === null && s.groups === null).length;
  const achievedNothing = roles.leaderChanges === 0 && roles.primaryChangesTotal === 0 && roles.membersRemoved === 0;
  const c: Coverage = { samples, unanswered, ...roles, faults, system, achievedNothing, line: '' };
  c.line = coverageLine(c);
  return c;
}

/** `coverage: 3 primary changes (g0 2, g1 1), 1 leader change; faults: 4 kills, 4 restarts` or what nothing was achieved. */
export function coverageLine(c: Omit<Coverage, 'line'>): string {
  const f = c.faults;
  const faults = [
    f.kills ? plural(f.kills, 'kill') : '',
    f.restarts ? plural(f.restarts, 'restart') : '',
    f.pauses ? plural(f.pauses, 'pause') : '',
    f.partitions ? plural(f.partitions, 'partition') : '',
    f.clock ? plural(f.clock, 'clock fault') : '',
    f.member ? plural(f.member, 'membership change') : '',
  ].filter(Boolean);
  const system = Object.entries(c.system)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${words(k)} ${n}`);
  const tail = [faults.length ? `faults: ${faults.join(', ')}` : 'no faults ran', ...(system.length ? [`system: ${system.join(', ')}`] : [])].join('; ');
  if (c.samples === 0 || c.unanswered === c.samples) return `coverage: unknown, the system's view never answered (${tail})`;
  if (c.achievedNothing) return `coverage: the faults changed no primary and no leader (${tail})`;
  const groups = Object.entries(c.primaryChanges).filter(([, n]) => n > 0);
  const parts = [
    `${plural(c.primaryChangesTotal, 'primary change')}${groups.length ? ` (${groups.map(([g, n]) => `${g} ${n}`).join(', ')})` : ''}`,
    plural(c.leaderChanges, 'leader change'),
  ];
  if (c.membersRemoved || c.membersReadded) parts.push(`${plural(c.membersRemoved, 'replica')} removed, ${c.membersReadded} re-added`);
  return `coverage: ${parts.join(', ')}; ${tail}`;
}

/** leaseExpiries -> lease expiries */
function words(k: string): string {
  return k.replace(/([a-z])([A-Z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`);
}
