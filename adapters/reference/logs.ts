// The reference system's log checks: what must never appear in its nodes'
// logs (a fatal stop on a violated invariant, an uncaught exception), and
// what its data servers' `role` lines say (system-under-test/runtime/data-server.ts):
// lease expiries, and whether two replicas of one group ever served reads as
// primary at once.
//
// The overlap check. Each `role` line (and each `stats` line) carries
// instants at which a replica was found serving reads as primary of a group,
// with the configuration version it served under, on the host's
// CLOCK_MONOTONIC (an instant is a span [a, b] of two readings around it).
// PacificA's guarantee (system-under-test/pacifica/replica.ts): a primary
// serves only while every secondary's lease holds, a lease ends `lease` after
// the send time of the last acknowledged prepare, and a secondary asks to
// replace a silent primary only `grace >= lease` after it last heard from it,
// so an old primary has stopped serving before a newer configuration exists
// whose primary could serve: no overlap at all, no tolerance. The check flags
// a replica found serving under configuration version v at an instant
// certainly later (its span's start after the other span's end) than another
// replica found serving under a newer version w > v: the old primary still
// served after the new one had. Two replicas serving under one version is
// flagged too (the CM gives each version one primary).
//
// What it assumes: every node reads the same CLOCK_MONOTONIC, true of the
// local provider and of Docker containers on one host (the kernel's
// monotonic clock is not namespaced), and libfaketime's clock faults leave it
// alone (FAKETIME_DONT_FAKE_MONOTONIC, nemesis/clock.ts), so the check holds
// under clock faults too. On any other provider it is skipped. Instants are
// only those a tick observed, so an overlap shorter than a tick (20 ms) can
// go unseen: the check may miss an overlap, never invent one.

import type { LogAnomaly, LogChecks, LogFindings, NodeLog, NodeLogContext } from '../../harness/core/system.js';

/** Providers whose nodes share one host's CLOCK_MONOTONIC. */
const ONE_HOST = new Set(['local', 'docker']);

export const REFERENCE_LOG_CHECKS: LogChecks = {
  // Recovery that finds a damaged log (a bad record followed by acknowledged ones, a missing base) stops the node with a
  // DiskCorruptError rather than serve from it or silently drop what it acknowledged: right, on a node the corrupt fault hit.
  refusesCorruption: /"kind":"DiskCorruptError"/,
  never: [
    // pino's fatal level: the data server and the CM stop on a violated invariant or a failed disk write.
    { pattern: /"level":60[,}]/, what: 'a fatal stop (a violated protocol invariant or a failed disk write)' },
    { pattern: /\b(InvariantError|AssertionError)\b/, what: 'a failed assertion' },
    // Node ends every report of an uncaught exception or unhandled rejection with its version line.
    { pattern: /^Node\.js v\d+\.\d+/, what: 'the process died of an uncaught exception' },
    { pattern: /FATAL ERROR:/, what: 'a fatal V8 error (out of memory)' },
  ],
  analyze: analyzeReferenceLogs,
};

/** One instant at which `node` was found serving `group` as primary under `version`. */
export interface ServingObservation {
  readonly node: string;
  readonly group: string;
  readonly version: number;
  /** CLOCK_MONOTONIC ms: the instant lies within [lo, hi]. */
  readonly lo: number;
  readonly hi: number;
  /** 1-based line of the node's log. */
  readonly line: number;
}

const span = (x: unknown): [number, number] | null =>
  Array.isArray(x) && x.length === 2 && typeof x[0] === 'number' && typeof x[1] === 'number' && x[0] <= x[1] ? [x[0], x[1]] : null;

const served = (x: unknown): { version: number; at: [number, number] } | null => {
  if (typeof x !== 'object' || x === null) return null;
  const r = x as { version?: unknown; at?: unknown };
  const at = span(r.at);
  return typeof r.version === 'number' && at !== null ? { version: r.version, at } : null;
};

/** The serving instants and lease expiries in the data servers' logs. */
export function servingObservations(logs: readonly NodeLog[]): { observations: ServingObservation[]; leaseExpiries: number; roleLines: number } {
  const observations: ServingObservation[] = [];
  let leaseExpiries = 0;
  let roleLines = 0;
  for (const log of logs) {
    if (log.role !== 'data') continue;
    log.lines.forEach((text, i) => {
      if (!text.startsWith('{') || !(text.includes('"event":"role"') || text.includes('"event":"stats"'))) return;
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      const line = i + 1;
      const add = (group: string, s: { version: number; at: [number, number] }) =>
        observations.push({ node: log.node, group, version: s.version, lo: s.at[0], hi: s.at[1], line });
      if (r.event === 'role' && typeof r.group === 'string') {
        roleLines++;
        const at = span(r.at);
        if (r.serving === true && typeof r.version === 'number' && at !== null) add(r.group, { version: r.version, at });
        const until = served(r.servedUntil);
        if (until !== null) {
          add(r.group, until);
          // Still the primary of the same configuration, no longer serving: a lease ran out.
          if (r.role === 'primary' && r.serving === false && r.version === until.version) leaseExpiries++;
        }
      } else if (r.event === 'stats' && typeof r.serving === 'object' && r.serving !== null) {
        for (const [group, s] of Object.entries(r.serving as Record<string, unknown>)) {
          const o = served(s);
          if (o !== null) add(group, o);
        }
      }
    });
  }
  return { observations, leaseExpiries, roleLines };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

/**
 * Certain overlaps of primaries per group: a replica serving under an older
 * version after another served under a newer one, or two replicas serving
 * under one version. At most one anomaly per pair of versions.
 */
export function primaryOverlaps(observations: readonly ServingObservation[], monoStartMs?: number): LogAnomaly[] {
  const when = (o: ServingObservation) => (monoStartMs === undefined ? '' : ` (${fmt(o.hi - monoStartMs)} into the test)`);
  const out: LogAnomaly[] = [];
  const byGroup = new Map<string, ServingObservation[]>();
  for (const o of observations) byGroup.set(o.group, [...(byGroup.get(o.group) ?? []), o]);
  for (const [group, obs] of [...byGroup].sort(([a], [b]) => a.localeCompare(b))) {
    const byVersion = new Map<number, ServingObservation[]>();
    for (const o of obs) byVersion.set(o.version, [...(byVersion.get(o.version) ?? []), o]);
    const versions = [...byVersion.keys()].sort((a, b) => a - b);
    for (const v of versions) {
      const here = byVersion.get(v)!;
      const nodes = [...new Set(here.map((o) => o.node))].sort();
      if (nodes.length > 1) {
        const [x, y] = nodes.map((n) => here.find((o) => o.node === n)!);
        out.push({
          kind: 'two-primaries',
          what: `${group}: ${x.node} and ${y.node} both served reads as primary of configuration version ${v}`,
          at: [
            { node: x.node, line: x.line },
            { node: y.node, line: y.line },
          ],
        });
      }
    }
    for (const [i, v] of versions.entries()) {
      // The old primary's latest certain instant under v...
      const last = byVersion.get(v)!.reduce((a, b) => (b.lo > a.lo ? b : a));
      for (const w of versions.slice(i + 1)) {
        // ...against the new primary's earliest certain instant under w, by another replica.
        const newer = byVersion.get(w)!.filter((o) => o.node !== last.node);
        if (newer.length === 0) continue;
        const first = newer.reduce((a, b) => (b.hi < a.hi ? b : a));
        if (last.lo > first.hi) {
          out.push({
            kind: 'two-primaries',
            what:
              `${group}: ${last.node} still served reads as primary of version ${v}${when(last)} ${fmt(last.lo - first.hi)} after ` +
              `${first.node} had served as primary of version ${w}${when(first)}: two primaries at once`,
            at: [
              { node: last.node, line: last.line },
              { node: first.node, line: first.line },
            ],
          });
          break;
        }
      }
    }
  }
  return out;
}

export function analyzeReferenceLogs(logs: readonly NodeLog[], ctx: NodeLogContext): LogFindings {
  const { observations, leaseExpiries, roleLines } = servingObservations(logs);
  const notes: string[] = [];
  let anomalies: LogAnomaly[] = [];
  if (!ONE_HOST.has(ctx.provider)) {
    notes.push(`primary overlap: skipped, the ${ctx.provider} provider's nodes may not share one monotonic clock`);
  } else if (roleLines > 0 && observations.length === 0) {
    notes.push('primary overlap: skipped, the role lines carry no serving instants (a data server older than this check)');
  } else {
    anomalies = primaryOverlaps(observations, ctx.monoStartMs);
    notes.push(
      `primary overlap: ${observations.length} instants of replicas serving as primary, on the host's monotonic clock` +
        `${ctx.faults.includes('clock') ? ' (clock faults leave it alone)' : ''}; ${anomalies.length === 0 ? 'no two primaries at once' : `${anomalies.length} overlaps`}`,
    );
  }
  return { counts: { leaseExpiries }, anomalies, notes };
}
