// One esbuild script, one bundle per runtime: the extension host, the inference child process,
// the webviews (browser, no Node), the CLI and the VS Code test suite.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  target: 'es2022',
};
const nodeCommon = {
  ...common,
  platform: 'node',
  format: 'cjs',
  // Native modules and the editor API are resolved at run time, never bundled.
  external: ['vscode', 'onnxruntime-node', 'sharp', 'playwright-core', 'mocha', '@vscode/test-electron'],
};

const entries = [
  { ...nodeCommon, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  { ...nodeCommon, entryPoints: ['src/inference/main.ts'], outfile: 'dist/inference.js' },
  { ...nodeCommon, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js' },
  { ...common, platform: 'browser', format: 'iife', entryPoints: ['src/webview/graph/main.ts'], outfile: 'dist/webview/graph.js', loader: { '.ttf': 'dataurl' } },
  { ...common, platform: 'browser', format: 'iife', entryPoints: ['src/webview/panel/main.ts'], outfile: 'dist/webview/panel.js', loader: { '.ttf': 'dataurl' } },
  { ...nodeCommon, entryPoints: ['test/vscode/suite/index.ts'], outfile: 'dist/test/vscode-suite.js' },
  { ...nodeCommon, entryPoints: ['test/vscode/runElectron.ts'], outfile: 'dist/test/runElectron.js' },
].filter((e) => e.entryPoints.every((p) => existsSync(p)));

if (watch) {
  for (const e of entries) (await esbuild.context(e)).watch();
} else {
  await Promise.all(entries.map((e) => esbuild.build(e)));
}
