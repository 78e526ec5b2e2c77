// Whether a process exists, for the cleanups that must tell a live harness's
// leftovers (never touched) from a dead one's.

/** Does process `pid` exist? EPERM counts: it exists but is not ours to signal. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
