// What a benchmark's figures depend on besides the code: the machine's cores,
// its load, how its CPU time went while measuring (user, system, interrupts,
// and steal: time the hypervisor gave to other guests), and the CPU time of
// the cluster's processes. Linux's /proc; elsewhere the readings are empty
// and the figures that need them NaN.

import { readFileSync } from 'node:fs';
import * as os from 'node:os';

/** CPU seconds (user + system) a process has used so far, from /proc; NaN when it cannot be read. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** The machine's CPU time by kind (/proc/stat's first line, in clock ticks); empty where there is none. */
export function machineCpu(): Record<string, number> {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { user: f[0] + f[1], system: f[2], idle: f[3] + f[4], irq: f[5] + f[6], steal: f[7] ?? 0 };
  } catch {
    return {};
  }
}

/** How the machine's CPU time went between two machineCpu() readings, as percentages per kind. */
export function cpuShares(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const d = Object.keys(a).map((k) => [k, b[k] - a[k]] as const);
  const total = d.reduce((n, [, v]) => n + v, 0);
  return total > 0 ? Object.fromEntries(d.map(([k, v]) => [k, Math.round((100 * v) / total)])) : {};
}

/** The shares as a line: "user 52%, system 28%, ...", or "unknown". */
export function cpuSplit(a: Record<string, number>, b: Record<string, number>): string {
  const s = Object.entries(cpuShares(a, b));
  return s.length > 0 ? s.map(([k, v]) => `${k} ${v}%`).join(', ') : 'unknown';
}

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  /** 1, 5 and 15 minute load averages. */
  loadavg: number[];
  totalMemMB: number;
  node: string;
  platform: string;
}

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}
