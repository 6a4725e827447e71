// Runs the same VS Code suite (dist/test/vscode-suite.js) under desktop VS Code (Electron) with
// @vscode/test-electron: `npm run test:electron`. Not part of CI: it downloads VS Code from
// update.code.visualstudio.com, which the CI network cannot reach (CI uses runCodeServer.mjs).
// Offline, point it at an installed VS Code with VSCODE_TEST_EXECUTABLE=/path/to/code.
// On Linux without a display, run it under `xvfb-run -a`.
import { runTests } from '@vscode/test-electron';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Built to dist/test/runElectron.js, and also runnable from test/vscode/ with tsx: both are two
// levels below the repo root.
const repoRoot = path.resolve(__dirname, '..', '..');

// The suite asserts VS Code 1.100, the version the code-server tier runs, so both tiers test alike.
const VSCODE_VERSION = process.env.VSCODE_TEST_VERSION ?? '1.100.3';

async function main(): Promise<number> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'marble-electron-'));
  const workspace = path.join(tmp, 'workspace');
  cpSync(path.join(repoRoot, 'test', 'vscode', 'workspace'), workspace, { recursive: true });
  const resultsFile = path.join(repoRoot, 'test-results', 'electron.json');
  rmSync(resultsFile, { force: true });
  try {
    await runTests({
      ...(process.env.VSCODE_TEST_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_TEST_EXECUTABLE } : { version: VSCODE_VERSION }),
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: path.join(repoRoot, 'dist', 'test', 'vscode-suite.js'),
      extensionTestsEnv: { MARBLE_TEST_MODE: '1', MARBLE_TEST_RESULTS: resultsFile },
      launchArgs: [workspace, '--disable-extensions', '--user-data-dir', path.join(tmp, 'user-data')],
    });
  } catch (err) {
    console.error(`[electron] the suite failed or VS Code could not start: ${err instanceof Error ? err.message : String(err)}`);
    console.error('[electron] offline? set VSCODE_TEST_EXECUTABLE, or run the same suite with `npm run test:vscode` (code-server).');
    return 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  try {
    console.log(`[electron] results: ${readFileSync(resultsFile, 'utf8').trim()}`);
  } catch {
    console.error(`[electron] VS Code exited cleanly but the suite wrote no results to ${resultsFile}`);
    return 1;
  }
  return 0;
}

main().then((code) => process.exit(code));
