// Results: the run store and the HTML report (later: the results browser).
export { renderReport, counterexampleSvg, escapeHtml, uplotAssets, type ReportInput } from './report.js';
export { reportData, faultsOf, healerOf, niceBucket, MAX_PROCESS_LANES, type ReportData, type Fault, type OpColumns, type Plot } from './report-data.js';
export { createRun, resolveRun, runPaths, readJson, writeJson, timestamp, DEFAULT_STORE, type RunPaths } from './store.js';
