// The acked-write property, shared by both simulators (./pacifica-sim.ts, one
// group; ./world.ts, every group of the whole system): while a replica serves
// as its group's primary, every update the group acknowledged to a client is
// committed on it, at the serial number the acknowledgement named. A pure
// function of the replica's log and what was acknowledged: calling it changes
// nothing.

/** What the property reads of a replica (PacificaReplica has these). */
export interface ReplicaLog {
  commitSn(): number;
  checkpointSn(): number;
  entryAt(sn: number): { readonly id: string } | undefined;
}

/** A group's acknowledged updates: request id by serial number, and the highest serial number. */
export interface AckedWrites {
  readonly max: number;
  readonly ids: ReadonlyMap<number, string>;
}

/**
 * Why the serving replica `node` breaks acked-write, or null if it holds.
 * Entries are compared from `from + 1` (the caller checked those at or below
 * `from` already; 0: all) up to the commit point; entries inside the
 * replica's checkpoint are not held and not compared.
 */
export function ackedWriteViolation(node: string, r: ReplicaLog, acked: AckedWrites, from = 0): string | null {
  const commit = r.commitSn();
  if (commit < acked.max) return `${node} serves with commit ${commit} but update sn ${acked.max} (${acked.ids.get(acked.max)}) was acknowledged`;
  for (let sn = Math.max(r.checkpointSn(), from) + 1; sn <= commit; sn++) {
    const id = acked.ids.get(sn);
    if (id === undefined) continue;
    const e = r.entryAt(sn);
    if (e?.id !== id) return `${node} holds ${e?.id ?? 'nothing'} at sn ${sn}, where ${id} was acknowledged`;
  }
  return null;
}
