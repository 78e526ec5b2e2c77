// A simulated disk for one PacificA replica: exactly the records the driver
// wrote. A crash keeps this and loses everything else (the replica object and
// any Output the simulator had not written yet).

import { EMPTY_DISK, type Checkpoint, type GroupConfig, type LogEntry, type PersistRecord, type ReplicaDiskState } from '../pacifica/types.js';
import { invariant } from '../util/invariant.js';

export class PacificaDisk {
  private config: GroupConfig | null = EMPTY_DISK.config;
  private checkpoint: Checkpoint = EMPTY_DISK.checkpoint;
  private entries: LogEntry[] = [];
  private commit = 0;
  private deposing: number | null = null;
  writes = 0;

  write(records: readonly PersistRecord[]): void {
    for (const r of records) {
      this.writes++;
      switch (r.kind) {
        case 'config':
          this.config = r.config;
          break;
        case 'entry': {
          const end = this.checkpoint.sn + this.entries.length;
          invariant(r.entry.sn === end + 1, () => `pacifica disk: entry ${r.entry.sn} after end ${end}`);
          this.entries.push(r.entry);
          break;
        }
        case 'truncate':
          this.entries = this.entries.filter((e) => e.sn <= r.after);
          this.commit = Math.min(this.commit, Math.max(r.after, this.checkpoint.sn));
          break;
        case 'deposing':
          this.deposing = r.version;
          break;
        case 'commit':
          this.commit = Math.max(this.commit, r.sn);
          break;
        case 'checkpoint':
          this.checkpoint = r.checkpoint;
          this.entries = this.entries.filter((e) => e.sn > r.checkpoint.sn);
          if (this.entries.length > 0 && this.entries[0].sn !== r.checkpoint.sn + 1) this.entries = [];
          this.commit = Math.max(this.commit, r.checkpoint.sn);
          break;
      }
    }
  }

  load(): ReplicaDiskState {
    const end = this.checkpoint.sn + this.entries.length;
    return { config: this.config, checkpoint: this.checkpoint, entries: [...this.entries], commit: Math.min(this.commit, end), deposing: this.deposing };
  }
}
