// The reaper: a process of its own that cleans up after a harness that died
// without doing it itself (SIGKILL, an OOM kill, a cancelled CI job), within
// seconds instead of at the next run. Testcontainers' Ryuk is the anchor.
//
// The harness starts it once, detached (its own session, so the Ctrl-C sent
// to the harness's process group does not reach it), with a pipe on its
// stdin that only the harness holds. The harness writes, for each run, its
// provider and its folder. When the pipe closes, the harness is gone,
// whichever way it went: the reaper kills every process whose command line
// names one of those folders (each local node's does: its data dir is in it),
// without trusting the registry a dying harness may not have finished
// writing, then runs those providers' `cleanupLeftovers`, which remove what
// belongs to dead harnesses only (the local provider's registry names the
// harness pid; Docker labels name the owner), so a clean exit costs a no-op.
// It runs once more a little later, for a container whose creation the
// engine was still finishing.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../core/project-root.js';

let reaper: ChildProcess | null | undefined;
const announced = new Set<string>();

/** What the harness tells its reaper, one JSON line a run. */
export interface ReaperLine {
  provider: string;
  runDir: string;
}

/** The built entry point of the reaper (dist/harness/run/reaper-main.js). */
export function reaperScript(): string {
  return join(projectRoot(), 'dist', 'harness', 'run', 'reaper-main.js');
}

/**
 * Makes sure the leftovers of this process's run in `runDir` on `provider` are removed if it dies.
 * Returns false when no reaper can run (the project is not built: run from
 * source without dist/), in which case the next run's cleanup still applies.
 */
export function watchOver(provider: string, runDir: string): boolean {
  if (reaper === undefined) {
    const script = reaperScript();
    if (!existsSync(script)) reaper = null;
    else {
      reaper = spawn(process.execPath, [script, String(process.pid)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
      reaper.on('error', () => (reaper = null));
      // Neither the child nor the pipe keeps this process alive; the pipe closes when it exits.
      reaper.unref();
      (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      reaper.stdin?.on('error', () => {});
    }
  }
  if (reaper === null) return false;
  const line = JSON.stringify({ provider, runDir } satisfies ReaperLine);
  if (!announced.has(line)) {
    announced.add(line);
    reaper.stdin?.write(`${line}\n`);
  }
  return true;
}
