// Results: the HTML report (later: the store layout and the results browser).
export { renderReport, counterexampleSvg, escapeHtml, uplotAssets, type ReportInput } from './report.js';
export { reportData, faultsOf, healerOf, niceBucket, MAX_PROCESS_LANES, type ReportData, type Fault, type OpColumns, type Plot } from './report-data.js';
