// Named fault profiles for the simulator. Each is tuned to make one family of
// bugs likely to show up within a few thousand ticks.

import type { SimOptions } from './simulation.js';

export type Profile = Partial<Omit<SimOptions, 'seed' | 'ticks'>>;

export const PROFILES = {
  /** The defaults: occasional crashes and partitions, a little loss and duplication. */
  calm: {},
  /** Frequent elections: short timeouts, partitions, two nodes down at once, lossy links. */
  stormy: { voters: 5, electionTicks: 6, partitionRate: 0.02, maxDown: 2, crashRate: 0.01, loss: 0.05, duplicate: 0.05, maxDelay: 5 },
  /** Frequent crashes with quick restarts: exercises what must be durable before a message leaves. */
  crashy: { voters: 3, electionTicks: 6, partitionRate: 0.01, maxDown: 1, crashRate: 0.05, loss: 0.05, duplicate: 0.05, maxDelay: 5 },
  /**
   * Long election timeouts against short delays, one group and many clients:
   * a deposed leader lives long enough to serve a stale read if reads are not
   * confirmed by a heartbeat round.
   */
  readers: { voters: 5, electionTicks: 20, heartbeatTicks: 3, partitionRate: 0.03, maxDown: 1, crashRate: 0.002, clientRate: 1, groups: 1, maxDelay: 1 },
  /** Membership churn: two spare servers, frequent add/remove through joint consensus. */
  membership: { spares: 2, membershipRate: 0.02 },
} satisfies Record<string, Profile>;

export type ProfileName = keyof typeof PROFILES;
