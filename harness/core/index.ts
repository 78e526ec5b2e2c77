// The harness's library part: the protocols a system, a provider and a
// workload implement, the client and nemesis protocols, the recorder, and
// the seeded generator library. It imports nothing above it (history/ and
// checkers/ only), so adapters, providers, nemeses, workloads and user code
// build on it without pulling in the orchestration or the CLI.

export * from './client.js';
export * from './provider.js';
export * from './system.js';
export * from './coverage.js';
export * from './options.js';
export * from './workload.js';
export * from './recorder.js';
export { projectRoot } from './project-root.js';
export * from './generator/index.js';
