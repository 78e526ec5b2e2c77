// The nemesis library: grudges (who drops whose packets), partitions with
// iptables, clock faults with libfaketime, power failures with an LD_PRELOAD
// shim, and the test's fault nemesis and schedule built on them and on the
// provider interface.

export * from './grudge.js';
export * from './iptables.js';
export * from './clock.js';
export * from './faults.js';
export * from './schedule.js';
export * from './power.js';
