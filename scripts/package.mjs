#!/usr/bin/env node
// `npm run package`: a platform-specific VSIX for this machine (or --target T). onnxruntime-node
// and sharp load native binaries, so they ship as installed node_modules beside the esbuild
// bundles: .vscodeignore is the allow-list, this script adds the target's binaries to it, checks
// that every runtime dependency is on it, packs with vsce and checks the VSIX's contents.
//
// Usage: node scripts/package.mjs [--target linux-x64|linux-arm64|win32-x64|win32-arm64|darwin-arm64] [--no-build]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkVsixEntries, listZip, TARGETS } from './vsixContents.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { target: `${process.platform}-${process.arch}`, build: true };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target') opts.target = argv[++i];
    else if (argv[i] === '--no-build') opts.build = false;
    else throw new Error(`package: unknown argument '${argv[i]}'`);
  }
  if (!TARGETS[opts.target]) throw new Error(`package: unsupported target '${opts.target}' (known: ${Object.keys(TARGETS).join(', ')})`);
  return opts;
}

/** Allow-list lines for the target's native binaries; fails when they are not installed. */
function targetLines(target) {
  const t = TARGETS[target];
  const ortDir = `node_modules/onnxruntime-node/bin/napi-v6/${t.ort}`;
  const sharpPkgs = [`@img/sharp-${t.sharp}`, ...(t.libvips ? [`@img/sharp-libvips-${t.sharp}`] : [])];
  const missing = [ortDir, ...sharpPkgs.map((p) => `node_modules/${p}`)].filter((p) => !existsSync(path.join(repoRoot, p)));
  if (missing.length) {
    throw new Error(`package: the ${target} binaries are not installed (${missing.join(', ')}); `
      + `install them first, e.g. npm install --os=${target.split('-')[0]} --cpu=${target.split('-')[1]} sharp`);
  }
  return [`!${ortDir}/**`, ...sharpPkgs.map((p) => `!node_modules/${p}/**`)];
}

/** Every runtime dependency (npm's view, as vsce collects them) must be named by an allow line. */
function checkAllowList(lines) {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const pkgs = out.split('\n').map((l) => path.relative(repoRoot, l.trim()).replace(/\\/g, '/')).filter((p) => p.startsWith('node_modules/'));
  const unlisted = pkgs.filter((p) => !lines.some((l) => l.startsWith(`!${p}/`)));
  if (unlisted.length) throw new Error(`package: runtime dependencies missing from .vscodeignore's allow-list: ${unlisted.join(', ')}`);
  return pkgs.length;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`package: ${path.basename(cmd)} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
}

/**
 * Unpacks the VSIX and uses it as an installed extension would: loads onnxruntime-node and sharp
 * from its node_modules (a missing file there only shows at require time), and
 * checks its bundled demo model (present, within its size bound, a parsable safetensors header).
 */
function smokeTest(vsix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'marble-vsix-'));
  try {
    run('unzip', ['-q', vsix, 'extension/*', '-d', dir]);
    const ext = path.join(dir, 'extension');
    const load = spawnSync(process.execPath, ['-e',
      "const ort = require('onnxruntime-node'); const sharp = require('sharp'); console.log(`ort ${ort.env.versions.common}, sharp ${sharp.versions.sharp}`)"],
    { cwd: ext, encoding: 'utf8' });
    if (load.status !== 0) throw new Error(`package: the VSIX's native modules do not load:\n${load.stderr}`);
    // The demo model the first-run offer installs must be there, within its bound, and parse.
    const meta = JSON.parse(readFileSync(path.join(ext, 'resources', 'models', 'marble-shapes-tiny.json'), 'utf8'));
    const model = path.join(ext, 'resources', 'models', meta.checkpoint);
    const bytes = readFileSync(model);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    if (bytes.length > meta.maxBytes || headerLen + 8 > bytes.length) throw new Error(`package: the VSIX's ${meta.checkpoint} is damaged or over ${meta.maxBytes} bytes`);
    const keys = Object.keys(JSON.parse(bytes.toString('utf8', 8, 8 + headerLen))).filter((k) => k !== '__metadata__');
    console.log(`package: smoke test passed (${load.stdout.trim()}; demo model ${keys.length} tensors, ${bytes.length} bytes)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  const { target, build } = parseArgs(process.argv.slice(2));
  const vsce = path.join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce');
  if (!existsSync(vsce)) throw new Error('package: @vscode/vsce is not installed (npm ci installs it as a dev dependency)');
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const base = readFileSync(path.join(repoRoot, '.vscodeignore'), 'utf8');
  const lines = [...base.split(/\r?\n/).map((l) => l.trim()), ...targetLines(target)];
  const deps = checkAllowList(lines);

  if (build) run(process.execPath, ['scripts/build.mjs', '--production']);
  const work = path.join(repoRoot, '.cache', 'vsix');
  mkdirSync(work, { recursive: true });
  const ignoreFile = path.join(work, `vscodeignore-${target}`);
  writeFileSync(ignoreFile, `${base.trimEnd()}\n\n# ${target} native binaries (added by scripts/package.mjs)\n${targetLines(target).join('\n')}\n`);

  const out = path.join(repoRoot, `${manifest.name}-${manifest.version}-${target}.vsix`);
  const tmp = path.join(work, `${path.basename(out)}.tmp`);
  // The VSIX is written beside and renamed: a failed or interrupted pack leaves no half file.
  // No repository to point README links at (and the README's `![alt](path)` is an example, not
  // an image): links stay as written.
  run(process.execPath, [vsce, 'package', '--target', target, '--ignoreFile', ignoreFile, '--allow-missing-repository',
    '--no-rewrite-relative-links', '--out', tmp]);
  const entries = listZip(tmp);
  const problems = checkVsixEntries(entries, target);
  if (problems.length) throw new Error(`package: the VSIX is not right:\n  ${problems.join('\n  ')}`);
  if (target === `${process.platform}-${process.arch}`) smokeTest(tmp);
  renameSync(tmp, out);
  const mb = (statSync(out).size / 1048576).toFixed(1);
  console.log(`package: ${path.relative(repoRoot, out)} (${mb} MB, ${entries.length} files, ${deps} runtime packages); contents check passed`);
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
