// etcd's log checks: what must never appear in a member's log (a Go panic,
// a fatal or critical line: capnslog's `C |`, zap's "level":"fatal"), and how
// often its members say they became leader or lost one (raft's own lines).

import type { LogChecks, NodeLog } from '../../harness/core/system.js';

export const ETCD_LOG_CHECKS: LogChecks = {
  never: [
    { pattern: /^panic: /, what: 'a Go panic' },
    { pattern: /^fatal error: /, what: 'a fatal Go runtime error' },
    { pattern: / C \| /, what: 'a critical log line (capnslog)' },
    { pattern: /"level":"(fatal|panic|dpanic)"/, what: 'a fatal log line (zap)' },
  ],
  analyze: (logs: readonly NodeLog[]) => {
    let becameLeader = 0;
    let lostLeader = 0;
    for (const log of logs)
      for (const line of log.lines) {
        if (line.includes('became leader at term')) becameLeader++;
        else if (line.includes('lost leader')) lostLeader++;
      }
    return { counts: { becameLeader, lostLeader } };
  },
};
