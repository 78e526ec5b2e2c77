// Clock faults with libfaketime, one process at a time and never the host
// clock. A node is spawned with libfaketime preloaded and pointed at a small
// file that holds its offset from the true time; the nemesis rewrites the
// file and the process sees the new wall clock on its next clock read. Only
// the wall clock (CLOCK_REALTIME: Date.now) moves: the monotonic clock is left
// alone (FAKETIME_DONT_FAKE_MONOTONIC=1), because that is the clock the
// reference system's leases are measured on and the clock Node's timers run
// on. See docs/clock-faults.md for the measurements behind these choices.

import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where Debian/Ubuntu (apt-get install faketime) and a source build put the library. */
const LIBRARY_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
];

/** The path of libfaketime.so.1 on this machine, or null when it is not installed. */
export function faketimeLibrary(candidates: readonly string[] = LIBRARY_CANDIDATES): string | null {
  return candidates.find((p) => existsSync(p)) ?? null;
}

/**
 * The environment to spawn a node with so that its wall clock follows the
 * offset in `file` (write it with `writeOffset(file, 0)` before spawning).
 * `library` defaults to this machine's; a container passes its own path.
 */
export function faketimeEnv(file: string, library: string | null = faketimeLibrary()): Record<string, string> {
  if (library === null) throw new Error('libfaketime is not installed, so clock faults cannot run: install it with `apt-get install -y faketime`');
  return {
    LD_PRELOAD: library,
    FAKETIME_TIMESTAMP_FILE: file,
    // Re-read the file on every clock read: with a cache the new offset would
    // only show after up to FAKETIME_CACHE_DURATION whole seconds, too coarse
    // for a strobe. Measured cost: see docs/clock-faults.md.
    FAKETIME_NO_CACHE: '1',
    // Leases and Node's timers run on CLOCK_MONOTONIC; faking it would also
    // make every timer fire early or late, which is not the fault we mean.
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  };
}

/** libfaketime's relative-offset syntax: a signed number of seconds, fractions allowed ("+5.000", "-0.250"). */
export function offsetSpec(offsetMs: number): string {
  if (!Number.isFinite(offsetMs)) throw new RangeError(`clock offset must be a finite number of ms, got ${offsetMs}`);
  const ms = Math.round(offsetMs);
  const sign = ms < 0 ? '-' : '+';
  const abs = Math.abs(ms);
  return `${sign}${Math.floor(abs / 1000)}.${String(abs % 1000).padStart(3, '0')}`;
}

/**
 * Writes the offset atomically (a temp file renamed over `file`): libfaketime
 * re-reads the file on every clock read, and must never see it half written.
 */
export function writeOffset(file: string, offsetMs: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, offsetSpec(offsetMs) + '\n');
  renameSync(tmp, file);
}

// --- The clock nemesis's faults, as data ---------------------------------------------

/** Sets each chosen node's clock `offsetMs` away from the true time (not cumulative: bump(0) is a reset). */
export interface Bump {
  readonly kind: 'bump';
  readonly offsetMs: number;
}
/** Flips each chosen node between its offset + deltaMs and its offset every periodMs, for durationMs, then back. */
export interface Strobe {
  readonly kind: 'strobe';
  readonly deltaMs: number;
  readonly periodMs: number;
  readonly durationMs: number;
}
/** Every chosen node back to the true time. */
export interface Reset {
  readonly kind: 'reset';
}
export type ClockFault = Bump | Strobe | Reset;

export function bump(offsetMs: number): Bump {
  if (!Number.isFinite(offsetMs)) throw new RangeError(`bump needs a finite offset in ms, got ${offsetMs}`);
  return { kind: 'bump', offsetMs };
}

export function strobe(o: { deltaMs: number; periodMs: number; durationMs: number }): Strobe {
  if (!Number.isFinite(o.deltaMs)) throw new RangeError(`strobe needs a finite deltaMs, got ${o.deltaMs}`);
  if (!(o.periodMs > 0)) throw new RangeError(`strobe needs periodMs > 0, got ${o.periodMs}`);
  if (!(o.durationMs >= 0)) throw new RangeError(`strobe needs durationMs >= 0, got ${o.durationMs}`);
  return { kind: 'strobe', deltaMs: o.deltaMs, periodMs: o.periodMs, durationMs: o.durationMs };
}

export const reset: Reset = { kind: 'reset' };

export function describeClockFault(f: ClockFault): string {
  switch (f.kind) {
    case 'bump':
      return `bump ${f.offsetMs >= 0 ? '+' : ''}${f.offsetMs} ms`;
    case 'strobe':
      return `strobe ±${f.deltaMs} ms every ${f.periodMs} ms for ${f.durationMs} ms`;
    case 'reset':
      return 'reset';
  }
}

/** What applies an offset: `Cluster.setClockOffset`, or a test's writer. */
export type SetOffset = (node: string, offsetMs: number) => Promise<void>;

export interface ClockNemesis {
  /** Applies `fault` to `nodes`; resolves with each node's offset afterwards. A strobe stops early (restoring offsets) when `signal` aborts. */
  apply(fault: ClockFault, nodes: readonly string[], signal?: AbortSignal): Promise<Record<string, number>>;
  /** Each node's offset as last set by this nemesis (absent: 0). */
  offsets(): Record<string, number>;
  /** Every node this nemesis moved back to the true time (before the final reads, and at teardown). */
  resetAll(): Promise<void>;
}

/**
 * The clock nemesis over a `setOffset` callback. It remembers the offsets it
 * set, so that a strobe oscillates around a node's current offset and returns
 * to it, and so that `resetAll` knows whom to put back.
 */
export function clockNemesis(setOffset: SetOffset): ClockNemesis {
  const current = new Map<string, number>();
  const set = async (node: string, ms: number) => {
    await setOffset(node, ms);
    current.set(node, ms);
  };
  const snapshot = (nodes: readonly string[]) => Object.fromEntries(nodes.map((n) => [n, current.get(n) ?? 0]));

  return {
    async apply(fault, nodes, signal) {
      switch (fault.kind) {
        case 'bump':
          await Promise.all(nodes.map((n) => set(n, fault.offsetMs)));
          break;
        case 'reset':
          await Promise.all(nodes.map((n) => set(n, 0)));
          break;
        case 'strobe': {
          const base = snapshot(nodes);
          let up = false;
          const until = performance.now() + fault.durationMs;
          try {
            while (performance.now() < until && !signal?.aborted) {
              up = !up;
              await Promise.all(nodes.map((n) => set(n, base[n]! + (up ? fault.deltaMs : 0))));
              await sleep(Math.min(fault.periodMs, Math.max(0, until - performance.now())), undefined, { signal }).catch(() => undefined);
            }
          } finally {
            if (up) await Promise.all(nodes.map((n) => set(n, base[n]!)));
          }
          break;
        }
      }
      return snapshot(nodes);
    },
    offsets() {
      return Object.fromEntries(current);
    },
    async resetAll() {
      const moved = [...current].filter(([, ms]) => ms !== 0).map(([n]) => n);
      await Promise.all(moved.map((n) => set(n, 0)));
    },
  };
}
