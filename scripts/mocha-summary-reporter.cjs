// Mocha reporter: the normal `spec` output, plus `{passed, failed, pending}` written to a JSON file
// when the run ends, so scripts/test-all.mjs can add tiers up without parsing text.
// The file is written only at the end of a run: a run that crashes leaves no file, and the caller
// reports the tier as crashed instead of reading stale or zero counts.
//
// Usage: mocha --reporter scripts/mocha-summary-reporter.cjs --reporter-option out=test-results/unit.json ...
//   (or set MARBLE_TEST_RESULTS=<file> instead of the reporter option)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Mocha = require('mocha');

const { EVENT_RUN_END } = Mocha.Runner.constants;

/** Counts from a runner's stats; hook failures count as failures, as in mocha's own exit code. */
function summarize(stats) {
  return { passed: stats.passes | 0, failed: stats.failures | 0, pending: stats.pending | 0 };
}

/** Writes JSON through a temp file and a rename, so a reader never sees half a file. */
function writeSummary(file, summary) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(summary) + '\n');
  fs.renameSync(tmp, file);
}

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options = {}) {
    super(runner, options);
    const reporterOptions = options.reporterOption || options.reporterOptions || {};
    const out = reporterOptions.out || process.env.MARBLE_TEST_RESULTS;
    if (!out) return;
    runner.once(EVENT_RUN_END, () => writeSummary(path.resolve(out), summarize(runner.stats)));
  }
}

module.exports = SummaryReporter;
module.exports.summarize = summarize;
module.exports.writeSummary = writeSummary;
