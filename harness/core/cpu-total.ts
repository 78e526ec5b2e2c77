// CPU seconds of a cluster whose processes (or containers) come and go: a
// fault kills a node and starts a new process, whose counter starts from 0
// again. Summing the live counters would then go backwards; this adds, for
// each one, what it used since it was last read, so the total only grows.
// What a killed one used between its last reading and its death is lost.

export class CpuTotal {
  private readonly last = new Map<string, number>();
  private total = 0;
  private known = false;

  /**
   * Reads the counters now (id, CPU seconds so far; NaN for one that cannot
   * be read) and returns the total so far: NaN until some counter was read.
   * A counter below its last reading is a new process under the same id.
   */
  add(readings: Iterable<readonly [string, number]>): number {
    for (const [id, now] of readings) {
      if (Number.isNaN(now)) continue;
      const before = this.last.get(id) ?? 0;
      this.total += now >= before ? now - before : now;
      this.last.set(id, now);
      this.known = true;
    }
    return this.known ? this.total : NaN;
  }
}
