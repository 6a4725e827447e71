// The list of VS Code-tier test files. esbuild bundles the suite into one file
// (dist/test/vscode-suite.js), so test files cannot be discovered by a glob at run time:
// each one is required here, explicitly, so that it is bundled.
//
// To add a test file: create test/vscode/suite/<name>.test.ts (mocha BDD: describe/it) and
// append one line `require('./<name>.test');` below. `describe`/`it` are globals at that point.
export function loadTestFiles(): void {
  // runCodeServer.mjs runs a second, small suite in a workspace that is not trusted.
  if (process.env.MARBLE_SUITE === 'untrusted') {
    require('./untrusted.test');
    return;
  }
  require('./smoke.test');
  // ↓ extension tests: append here, one require per file.
  require('./extension.test');
  require('./backend.test');
  require('./generation.test');
  require('./seams.test');
  require('./inputs.test');
  require('./demoModel.test');
  require('./download.test');
  require('./lmTool.test');
  require('./remoteBackend.test');
  require('./editorFlows.test');
  // Keep last: it leaves editors open for the runner's screenshots.
  require('./showcase.test');
}
