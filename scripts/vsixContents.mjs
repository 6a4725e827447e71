// What a Marble VSIX must and must not hold, and a reader for its file list. A .vsix is a zip;
// the list comes from the zip's central directory, so no unzip tool is needed.
import { readFileSync } from 'node:fs';

/** Entry names of a zip file (its central directory; zip64 archives are not expected here). */
export function listZip(file) {
  const buf = readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65_535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file (no end-of-central-directory record)`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const names = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: damaged central directory at entry ${n}`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    names.push(buf.toString('utf8', p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

/** onnxruntime-node's binary folder and sharp's package suffix for a vsce target. */
export const TARGETS = {
  'linux-x64': { ort: 'linux/x64', sharp: 'linux-x64', libvips: true },
  'linux-arm64': { ort: 'linux/arm64', sharp: 'linux-arm64', libvips: true },
  'win32-x64': { ort: 'win32/x64', sharp: 'win32-x64', libvips: false },
  'win32-arm64': { ort: 'win32/arm64', sharp: 'win32-arm64', libvips: false },
  'darwin-arm64': { ort: 'darwin/arm64', sharp: 'darwin-arm64', libvips: true },
};

/** Problems with a VSIX's entries for `target` (empty when it is complete and clean). */
export function checkVsixEntries(entries, target) {
  const t = TARGETS[target];
  if (!t) throw new Error(`no VSIX rules for target ${target} (known: ${Object.keys(TARGETS).join(', ')})`);
  const has = new Set(entries);
  const required = [
    // vsce stores README.md as readme.md and LICENSE as LICENSE.txt.
    'extension/package.json', 'extension/readme.md', 'extension/LICENSE.txt',
    'extension/dist/extension.js', 'extension/dist/inference.js',
    'extension/dist/webview/graph.js', 'extension/dist/webview/panel.js',
    'extension/resources/clip-tokenizer/vocab.json', 'extension/resources/clip-tokenizer/merges.txt',
    'extension/resources/workflows/default.workflow.json',
    'extension/resources/models/marble-shapes-tiny.safetensors', 'extension/resources/models/marble-shapes-tiny.json',
    'extension/node_modules/onnxruntime-node/dist/index.js',
    `extension/node_modules/onnxruntime-node/bin/napi-v6/${t.ort}/onnxruntime_binding.node`,
    'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
    'extension/node_modules/onnxruntime-common/dist/cjs/package.json',
    'extension/node_modules/sharp/dist/index.cjs',
    `extension/node_modules/@img/sharp-${t.sharp}/package.json`,
  ];
  const problems = required.filter((f) => !has.has(f)).map((f) => `missing ${f}`);
  if (!entries.some((e) => e.startsWith(`extension/node_modules/@img/sharp-${t.sharp}/lib/`) && e.endsWith('.node'))) {
    problems.push(`missing sharp's native binary extension/node_modules/@img/sharp-${t.sharp}/lib/*.node`);
  }
  const forbidden = [
    [/^extension\/(src|test|tools|bench|scripts|models|output|test-results|\.cache|bin)\//, 'development folder'],
    [/^extension\/dist\/test\//, 'test bundle'],
    [/^extension\/dist\/.*\.map$/, 'source map'],
    [/^extension\/node_modules\/(?!onnxruntime-node|onnxruntime-common|sharp|@img|detect-libc|semver|adm-zip|global-agent|globalthis|matcher|serialize-error|define-properties|gopd|escape-string-regexp|type-fest|define-data-property|has-property-descriptors|object-keys|es-define-property|es-errors)[^/]+\//, 'not a runtime dependency'],
  ];
  for (const e of entries) {
    for (const [re, why] of forbidden) {
      if (re.test(e)) problems.push(`unexpected ${e} (${why})`);
    }
    const ort = /^extension\/node_modules\/onnxruntime-node\/bin\/napi-v6\/([^/]+\/[^/]+)\//.exec(e);
    if (ort && ort[1] !== t.ort) problems.push(`unexpected ${e} (onnxruntime binary for ${ort[1]}, target is ${target})`);
    const img = /^extension\/node_modules\/@img\/sharp-(?:libvips-)?([^/]+)\//.exec(e);
    if (img && img[1] !== t.sharp) problems.push(`unexpected ${e} (sharp binary for ${img[1]}, target is ${target})`);
  }
  return problems;
}
