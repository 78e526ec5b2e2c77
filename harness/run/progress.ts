// The live progress line of a run: elapsed of the limit, ok/fail/info counts
// of client ops, and the faults in force. On a terminal it rewrites one line
// every second; elsewhere (CI=true, a pipe) it prints a plain line every few
// seconds, so logs stay readable.

import { NEMESIS, type Op } from '../../history/types.js';
import { HEAL_ALL, healerOf } from '../../results/report-data.js';

export class Progress {
  private next = 0;
  private readonly counts = { ok: 0, fail: 0, info: 0 };
  private readonly faults = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;
  private drawn = false;

  constructor(
    private readonly history: () => readonly Op[],
    private readonly limitS: number,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {
    this.tty = out.isTTY === true && process.env.CI !== 'true';
  }

  start(): void {
    const t0 = performance.now();
    this.timer = setInterval(() => this.draw((performance.now() - t0) / 1000), this.tty ? 1000 : 5000);
    this.timer.unref();
  }

  /** The line for `elapsedS`, after taking in the events recorded since the last call. */
  line(elapsedS: number): string {
    const h = this.history();
    for (; this.next < h.length; this.next++) {
      const op = h[this.next];
      if (op.process === NEMESIS) {
        if (op.type !== 'info' || op.index === undefined) continue;
        // The same pairing of start and stop ops as the report's fault intervals.
        if (healerOf(op.f) !== undefined) this.faults.set(op.f, describeFault(op));
        else for (const start of [...this.faults.keys()]) if (op.f === HEAL_ALL || healerOf(start) === op.f) this.faults.delete(start);
      } else if (op.type !== 'invoke') this.counts[op.type]++;
    }
    const faults = this.faults.size > 0 ? [...this.faults.values()].join('; ') : 'none';
    const after = elapsedS > this.limitS ? ', healing and final reads' : '';
    return `[${elapsedS.toFixed(0).padStart(4)}s / ${this.limitS}s${after}] ok ${this.counts.ok}  fail ${this.counts.fail}  info ${this.counts.info}  faults: ${faults}`;
  }

  private draw(elapsedS: number): void {
    const text = this.line(elapsedS);
    if (this.tty) {
      this.out.write(`\r\x1b[2K${text}`);
      this.drawn = true;
    } else this.out.write(`${text}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.drawn) this.out.write('\n');
  }
}

function describeFault(op: Op): string {
  const v = op.value as Record<string, unknown> | null;
  if (v && typeof v === 'object') {
    if (typeof v.node === 'string') return `${op.f} ${v.node}`;
    if (op.f === 'packet' && Array.isArray(v.nodes)) return `packet ${(v.nodes as string[]).join(',')} ${String(v.about ?? '')}`.trim();
    if (typeof v.about === 'string') return `partition: ${v.about}`;
    if (Array.isArray(v.nodes)) return `${op.f} ${(v.nodes as string[]).join(',')}${v.deltaMs !== undefined ? ` ${String(v.deltaMs)}ms` : ''}`;
  }
  return op.f;
}
