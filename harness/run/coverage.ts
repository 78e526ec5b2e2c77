// During a run: the system's view sampled every few hundred milliseconds
// (who leads, who serves each group), for the run's fault coverage
// (harness/core/coverage.ts). After it: the nodes' logs read and checked with
// the adapter's log checks. Both land in RUN/coverage.json, from which the
// analysis (also `undertow analyze`) adds `coverage` and the `node-logs`
// checker to results.json.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckerResult } from '../../checkers/index.js';
import type { Op } from '../../history/types.js';
import { distinctSamples, type ViewSample } from '../core/coverage.js';
import type { LogAnomaly, LogChecks, NodeLog, NodeLogContext, SystemView } from '../core/system.js';

/** How often the view is asked, by default. */
export const SAMPLE_EVERY_MS = 250;

/** Asks the view who leads and who serves each group, every `everyMs`, one question at a time. */
export class ViewSampler {
  private readonly taken: ViewSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly view: SystemView,
    private readonly now: () => number,
    private readonly everyMs = SAMPLE_EVERY_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.inFlight === null && !this.stopped) this.inFlight = this.sample().finally(() => (this.inFlight = null));
    }, this.everyMs);
    this.timer.unref();
  }

  /** Stops sampling, after the question in flight (before the view is closed). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.inFlight;
  }

  /** Every sample taken. */
  samples(): readonly ViewSample[] {
    return this.taken;
  }

  private async sample(): Promise<void> {
    const t = this.now();
    const [leader, groups] = await Promise.all([this.view.leader().catch(() => null), this.view.groups().catch(() => null)]);
    if (this.stopped) return;
    this.taken.push({
      t,
      leader,
      groups: groups === null ? null : groups.map((g) => ({ group: g.group, primary: g.primary, secondaries: [...g.secondaries] })),
    });
  }
}

/** A never-pattern found: where and what. */
export interface LogMatch {
  readonly node: string;
  readonly line: number;
  readonly text: string;
  readonly what: string;
}

export interface NodeLogsResult extends CheckerResult {
  checker: 'node-logs';
  /** Never-pattern matches (the first 50), and how many in all. */
  matches: LogMatch[];
  matchCount: number;
  anomalies: LogAnomaly[];
  notes: string[];
  /** Lines read per node. */
  lines: Record<string, number>;
}

/** What RUN/coverage.json holds. */
export interface StoredCoverage {
  /** Samples taken; `samples` keeps only the distinct ones. */
  readonly taken: number;
  readonly unanswered: number;
  readonly samples: readonly ViewSample[];
  /** The node-log checks' result and the system's counts, when the adapter has log checks. */
  readonly logs: { readonly result: NodeLogsResult; readonly counts: Readonly<Record<string, number>> } | null;
}

export const COVERAGE_FILE = 'coverage.json';

export function storedCoverage(samples: readonly ViewSample[], logs: StoredCoverage['logs']): StoredCoverage {
  return {
    taken: samples.length,
    unanswered: samples.filter((s) => s.leader === null && s.groups === null).length,
    samples: distinctSamples(samples),
    logs,
  };
}

export function readStoredCoverage(runDir: string): StoredCoverage | null {
  const file = join(runDir, COVERAGE_FILE);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as StoredCoverage;
}

/** Every node's log (RUN/nodes/NODE/NODE.log); a node without one has no lines. */
export function readNodeLogs(runDir: string, nodes: readonly { readonly name: string; readonly role: string }[]): NodeLog[] {
  return nodes.map((n) => {
    const file = join(runDir, 'nodes', n.name, `${n.name}.log`);
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return { node: n.name, role: n.role, lines };
  });
}

const MAX_MATCHES = 50;
const MAX_TEXT = 400;

/** The nodes whose files a `corrupt` fault damaged (its completion names the node and the file changed), in the order first hit. */
export function corruptedNodes(history: readonly Op[]): string[] {
  const nodes = new Set<string>();
  for (const op of history) {
    if (op.process !== 'nemesis' || op.f !== 'corrupt' || op.type !== 'info') continue;
    const v = op.value as { node?: unknown; file?: unknown } | null;
    if (v !== null && typeof v === 'object' && typeof v.node === 'string' && typeof v.file === 'string') nodes.add(v.node);
  }
  return [...nodes];
}

/** The adapter's log checks over the nodes' logs: never-patterns found (node, line, text) and its own analysis. */
export function checkNodeLogs(logs: readonly NodeLog[], checks: LogChecks, ctx: NodeLogContext): { result: NodeLogsResult; counts: Record<string, number> } {
  const matches: LogMatch[] = [];
  let matchCount = 0;
  // Nodes that refused the data a corrupt fault damaged: how often, and the first such line.
  const refused = new Map<string, { count: number; line: number; text: string }>();
  const corrupted = new Set(ctx.corrupted ?? []);
  for (const log of logs) {
    const patterns = checks.never.filter((p) => p.roles === undefined || p.roles.includes(log.role));
    if (patterns.length === 0) continue;
    log.lines.forEach((text, i) => {
      const p = patterns.find((x) => x.pattern.test(text));
      if (p === undefined) return;
      if (corrupted.has(log.node) && checks.refusesCorruption?.test(text) === true) {
        const r = refused.get(log.node) ?? { count: 0, line: i + 1, text };
        refused.set(log.node, { ...r, count: r.count + 1 });
        return;
      }
      matchCount++;
      if (matches.length < MAX_MATCHES)
        matches.push({ node: log.node, line: i + 1, text: text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}...` : text, what: p.what });
    });
  }
  const notes = [`${checks.never.length} never-patterns over ${logs.length} node logs (${checks.never.map((p) => p.what).join('; ')})`];
  for (const [node, r] of refused)
    notes.push(
      `${node} refused to start on the data the corrupt fault damaged (${r.count} time${r.count === 1 ? '' : 's'}; first at line ${r.line}: ${r.text.length > MAX_TEXT ? `${r.text.slice(0, MAX_TEXT)}...` : r.text}): detected corruption, not a failure`,
    );
  let anomalies: LogAnomaly[] = [];
  let counts: Record<string, number> = {};
  if (checks.analyze) {
    try {
      const f = checks.analyze(logs, ctx);
      anomalies = [...(f.anomalies ?? [])];
      counts = { ...(f.counts ?? {}) };
      notes.push(...(f.notes ?? []));
    } catch (e) {
      notes.push(`the system's log analysis failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const verdict = matchCount > 0 || anomalies.length > 0 ? 'invalid' : 'valid';
  return {
    result: {
      checker: 'node-logs',
      verdict,
      valid: verdict === 'valid',
      matches,
      matchCount,
      anomalies,
      notes,
      lines: Object.fromEntries(logs.map((l) => [l.node, l.lines.length])),
    },
    counts,
  };
}
