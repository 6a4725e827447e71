import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { checkVsixEntries, listZip } from '../../../scripts/vsixContents.mjs';

const repoRoot = path.resolve(__dirname, '../../..');

/** The smallest entry list that passes for linux-x64. */
function completeLinuxX64(): string[] {
  const e = (p: string) => `extension/${p}`;
  return [
    'extension.vsixmanifest', '[Content_Types].xml',
    e('package.json'), e('readme.md'), e('LICENSE.txt'),
    e('dist/extension.js'), e('dist/inference.js'), e('dist/webview/graph.js'), e('dist/webview/panel.js'),
    e('resources/clip-tokenizer/vocab.json'), e('resources/clip-tokenizer/merges.txt'), e('resources/workflows/default.workflow.json'),
    e('resources/models/marble-shapes-tiny.safetensors'), e('resources/models/marble-shapes-tiny.json'),
    e('node_modules/onnxruntime-node/dist/index.js'),
    e('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node'),
    e('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1'),
    e('node_modules/onnxruntime-common/dist/cjs/index.js'),
    e('node_modules/onnxruntime-common/dist/cjs/package.json'),
    e('node_modules/sharp/dist/index.cjs'),
    e('node_modules/@img/sharp-linux-x64/package.json'),
    e('node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64-0.35.5.node'),
    e('node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.8.18.7'),
  ];
}

describe('VSIX contents rules', () => {
  it('accept a complete linux-x64 package', () => {
    assert.deepEqual(checkVsixEntries(completeLinuxX64(), 'linux-x64'), []);
  });

  it('name each missing bundle, tokenizer file and native binary', () => {
    const entries = completeLinuxX64().filter((f) => !/marble-shapes-tiny\.safetensors|vocab\.json|onnxruntime_binding|sharp-linux-x64-.*\.node/.test(f));
    assert.deepEqual(checkVsixEntries(entries, 'linux-x64'), [
      'missing extension/resources/clip-tokenizer/vocab.json',
      'missing extension/resources/models/marble-shapes-tiny.safetensors',
      'missing extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
      "missing sharp's native binary extension/node_modules/@img/sharp-linux-x64/lib/*.node",
    ]);
  });

  it('refuse sources, tests, caches, dev dependencies and other platforms', () => {
    const extra = [
      'extension/src/extension/extension.ts', 'extension/test/unit/a.test.ts', 'extension/.cache/code-server/x',
      'extension/dist/test/vscode-suite.js', 'extension/dist/extension.js.map', 'extension/node_modules/esbuild/package.json',
      'extension/node_modules/onnxruntime-node/bin/napi-v6/win32/x64/onnxruntime.dll',
      'extension/node_modules/@img/sharp-darwin-arm64/lib/sharp.node',
    ];
    const problems = checkVsixEntries([...completeLinuxX64(), ...extra], 'linux-x64');
    assert.equal(problems.length, extra.length, problems.join('\n'));
    for (const f of extra) assert.ok(problems.some((p) => p.startsWith(`unexpected ${f} `)), f);
    assert.throws(() => checkVsixEntries([], 'linux-mips'), /no VSIX rules for target linux-mips/);
  });

  it('reads the file list of the packaged VSIX, when `npm run package` made one', function () {
    const vsix = readdirSync(repoRoot).filter((f) => /^marble-diffusion-.*-linux-x64\.vsix$/.test(f)).sort().pop();
    if (!vsix || process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    const entries = listZip(path.join(repoRoot, vsix!));
    assert.ok(entries.length > 100, `${entries.length} entries`);
    assert.deepEqual(checkVsixEntries(entries, 'linux-x64'), []);
  });

  it('says plainly when a file is not a zip', () => {
    const notZip = path.join(repoRoot, 'package.json');
    assert.ok(existsSync(notZip));
    assert.throws(() => listZip(notZip), /is not a zip file/);
  });
});
