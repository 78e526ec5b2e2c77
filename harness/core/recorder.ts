// The history recorder: gives each event its index and its time (monotonic
// nanoseconds since the test's start), keeps it in memory for the checkers,
// and appends it to history.jsonl (nemesis events also to nemesis.jsonl) the
// moment it happens.
//
// Each event is one synchronous write(2) of one whole line, with no buffer of
// our own: once `record` returns, the line is in the kernel, so it survives
// an uncaught exception, process.exit or SIGKILL of the harness right after.
// (A buffered stream would lose its tail in exactly those cases.) Surviving a
// machine crash would need an fsync per event, far too slow; `close` fsyncs.

import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { formatOp } from '../../history/jsonl.js';
import { NEMESIS, type Key, type Op, type OpType, type Process, type Value } from '../../history/types.js';

/** Monotonic nanoseconds from an arbitrary origin. */
export type Clock = () => bigint;

export const monotonicClock: Clock = () => process.hrtime.bigint();

export const HISTORY_FILE = 'history.jsonl';
export const NEMESIS_FILE = 'nemesis.jsonl';

export interface RecorderOptions {
  /** Folder for history.jsonl and nemesis.jsonl (created if missing); in memory only when absent. */
  dir?: string;
  /** Defaults to process.hrtime; tests pass a fake one. Time 0 is when the recorder is made. */
  clock?: Clock;
}

/** An event before it is recorded: everything but its place in the history. */
export interface EventFields {
  type: OpType;
  f: string;
  value: Value;
  process: Process;
  key?: Key;
  error?: Value;
}

export class Recorder {
  private readonly clock: Clock;
  private readonly start: bigint;
  private lastTime = 0;
  private readonly events: Op[] = [];
  private readonly nemesisEvents: Op[] = [];
  private historyFd: number | undefined;
  private nemesisFd: number | undefined;
  private closed = false;

  constructor(opts: RecorderOptions = {}) {
    this.clock = opts.clock ?? monotonicClock;
    if (opts.dir !== undefined) {
      mkdirSync(opts.dir, { recursive: true });
      // 'wx': a run's folder is fresh; never append to or clobber another run's history.
      this.historyFd = openSync(join(opts.dir, HISTORY_FILE), 'wx');
      this.nemesisFd = openSync(join(opts.dir, NEMESIS_FILE), 'wx');
    }
    this.start = this.clock();
  }

  /** Nanoseconds since the start, never less than a time already handed out. */
  now(): number {
    const t = Number(this.clock() - this.start);
    if (t > this.lastTime) this.lastTime = t;
    return this.lastTime;
  }

  /** Records the event now: returns it with its index and time, already on disk. */
  record(fields: EventFields): Op {
    if (this.closed) throw new Error(`recorder is closed; cannot record ${fields.type} ${fields.f}`);
    const op: Op = { index: this.events.length, type: fields.type, f: fields.f, value: fields.value, process: fields.process, time: this.now() };
    if (fields.key !== undefined) op.key = fields.key;
    if (fields.error !== undefined) op.error = fields.error;
    const line = `${formatOp(op)}\n`;
    if (this.historyFd !== undefined) writeAll(this.historyFd, line);
    if (op.process === NEMESIS) {
      if (this.nemesisFd !== undefined) writeAll(this.nemesisFd, line);
      this.nemesisEvents.push(op);
    }
    this.events.push(op);
    return op;
  }

  /** Every event so far, clients' and nemesis', in order. */
  get history(): readonly Op[] {
    return this.events;
  }

  get nemesisHistory(): readonly Op[] {
    return this.nemesisEvents;
  }

  /** Flushes the files to the disk and closes them. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of [this.historyFd, this.nemesisFd]) {
      if (fd === undefined) continue;
      fsyncSync(fd);
      closeSync(fd);
    }
  }
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
