// The extension-tests entry (`extensionTestsPath`): VS Code calls `run()` inside the extension
// host, under code-server (test/vscode/runCodeServer.mjs, CI) or Electron (test/vscode/runElectron.ts).
// Mocha is driven programmatically because the test files are bundled, not found by the CLI.
import Mocha from 'mocha';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { format } from 'node:util';
import { loadTestFiles } from './tests';

export interface SuiteSummary {
  passed: number;
  failed: number;
  pending: number;
}

/** Written through a temp file and a rename: the runner must never read half a file. */
function writeSummary(file: string, summary: SuiteSummary): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(summary) + '\n');
  renameSync(tmp, file);
}

export function run(): Promise<void> {
  // The extension host forwards console.log arguments to the workbench log unformatted, so mocha's
  // printf-style reporter lines would arrive as "%s%s"; format them here instead.
  (Mocha.reporters.Base as unknown as { consoleLog: (...args: unknown[]) => void }).consoleLog = (...args) =>
    console.log(format(...args));
  // forbidOnly in CI: a stray `.only` must not silently skip the rest of the suite.
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter: 'spec', forbidOnly: !!process.env.CI });
  // MARBLE_TEST_GREP narrows a local run to matching test titles.
  if (process.env.MARBLE_TEST_GREP) mocha.grep(process.env.MARBLE_TEST_GREP);
  // The BDD globals (describe/it/before...) must exist while the test modules are evaluated,
  // which is what mocha's CLI does per file before requiring it.
  mocha.suite.emit('pre-require', globalThis, 'vscode-suite', mocha);
  try {
    loadTestFiles();
  } catch (err) {
    // A test module that throws at import time is a failed suite, not an empty one.
    console.error('[vscode-suite] a test file failed to load:', err);
    return Promise.reject(err);
  }
  const resultsFile = process.env.MARBLE_TEST_RESULTS;
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const stats = runner.stats;
      const summary: SuiteSummary = {
        passed: stats?.passes ?? 0,
        failed: Math.max(failures, stats?.failures ?? 0),
        pending: stats?.pending ?? 0,
      };
      try {
        if (resultsFile) writeSummary(resultsFile, summary);
      } catch (err) {
        reject(new Error(`vscode-suite: could not write results to ${resultsFile}: ${String(err)}`));
        return;
      }
      if (summary.failed > 0) reject(new Error(`${summary.failed} VS Code test(s) failed`));
      else resolve();
    });
  });
}
