#!/usr/bin/env node
// Installs code-server (VS Code 1.100.3 server + web workbench) from the npm registry into
// .cache/code-server/, for the `vscode` test tier. Offline-safe recipe from
// docs/vscode-anchors.md §4.1: code-server's own postinstall downloads ripgrep from GitHub, which
// this network refuses, so scripts are skipped and only the native modules the server needs are
// built. Idempotent: a stamp file records what was built, and a matching stamp means nothing to do.
//
// Usage: node scripts/setup-code-server.mjs [--force]
// Prints the path of code-server's entry script as its last line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cacheDir = path.join(repoRoot, '.cache', 'code-server');
export const installDir = path.join(cacheDir, CODE_SERVER_VERSION);
export const entryScript = path.join(installDir, 'package', 'out', 'node', 'entry.js');
const stampFile = path.join(installDir, 'installed.json');

// Native modules are tied to Node's ABI, so a Node upgrade must trigger a rebuild.
const expectedStamp = { codeServer: CODE_SERVER_VERSION, nodeAbi: process.versions.modules, platform: `${process.platform}-${process.arch}` };

export function isInstalled() {
  if (!existsSync(stampFile) || !existsSync(entryScript)) return false;
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    return Object.entries(expectedStamp).every(([k, v]) => stamp[k] === v);
  } catch {
    return false;
  }
}

function sh(cmd, args, cwd, { allowFail = false } = {}) {
  const started = Date.now();
  console.log(`[setup-code-server] $ ${cmd} ${args.join(' ')}   (in ${path.relative(repoRoot, cwd) || '.'})`);
  // npm_config_* from an outer `npm run`/`npm test` would otherwise leak into these installs
  // (e.g. the project's onnxruntime flags, or a --prefix), so they are dropped.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.error) throw new Error(`setup-code-server: could not run '${cmd}': ${r.error.message}`);
  if (r.status !== 0 && !allowFail) {
    throw new Error(`setup-code-server: '${cmd} ${args.join(' ')}' in ${cwd} exited with ${r.status} after ${secs} s`);
  }
  console.log(`[setup-code-server]   -> exit ${r.status} in ${secs} s`);
  return r.status;
}

function requireFile(file, what) {
  if (!existsSync(file)) throw new Error(`setup-code-server: ${what} is missing after the build (expected ${file})`);
}

export function install({ force = false } = {}) {
  if (!force && isInstalled()) {
    console.log(`[setup-code-server] code-server ${CODE_SERVER_VERSION} already installed in ${path.relative(repoRoot, installDir)}`);
    return entryScript;
  }
  const t0 = Date.now();
  // Build in a scratch folder and rename at the end, so an interrupted install never looks complete.
  const work = `${installDir}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    sh('npm', ['pack', `code-server@${CODE_SERVER_VERSION}`, '--silent'], work);
    sh('tar', ['xzf', `code-server-${CODE_SERVER_VERSION}.tgz`], work);
    rmSync(path.join(work, `code-server-${CODE_SERVER_VERSION}.tgz`));
    const pkg = path.join(work, 'package');
    const vscodeDir = path.join(pkg, 'lib', 'vscode');

    sh('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-package-lock'], pkg);
    // argon2's prebuilt download fails offline; its install script then falls back to node-gyp.
    sh('npm', ['run', 'install'], path.join(pkg, 'node_modules', 'argon2'));
    requireFile(path.join(pkg, 'node_modules', 'argon2', 'lib', 'binding', 'napi-v3', 'argon2.node'), 'argon2 native binding');

    sh('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-package-lock'], vscodeDir);
    // node-pty's last postinstall step runs `npx node-gyp` for compile_commands.json, which fails
    // offline after the binary is built, so the exit code is not trusted; the binaries are checked.
    sh('npm', ['rebuild', 'node-pty', '@parcel/watcher', '@vscode/spdlog', 'native-watchdog', '@vscode/deviceid'], vscodeDir, { allowFail: true });
    const nm = path.join(vscodeDir, 'node_modules');
    requireFile(path.join(nm, 'node-pty', 'build', 'Release', 'pty.node'), 'node-pty native binding');
    requireFile(path.join(nm, '@vscode', 'spdlog', 'build', 'Release', 'spdlog.node'), '@vscode/spdlog native binding');
    requireFile(path.join(nm, 'native-watchdog', 'build', 'Release', 'watchdog.node'), 'native-watchdog native binding');

    // What code-server's postinstall does besides installing: VS Code looks for bundled files
    // (ripgrep, oniguruma wasm) under node_modules.asar.
    symlinkSync('node_modules', path.join(vscodeDir, 'node_modules.asar'));
    // Debian's ripgrep, when present, stands in for the binary @vscode/ripgrep could not download.
    const rgDir = path.join(nm, '@vscode', 'ripgrep', 'bin');
    if (existsSync('/usr/bin/rg') && existsSync(path.dirname(rgDir)) && !existsSync(path.join(rgDir, 'rg'))) {
      mkdirSync(rgDir, { recursive: true });
      symlinkSync('/usr/bin/rg', path.join(rgDir, 'rg'));
    }

    requireFile(path.join(work, 'package', 'out', 'node', 'entry.js'), 'code-server entry script');
    writeFileSync(path.join(work, 'installed.json'), JSON.stringify({ ...expectedStamp, installedAt: new Date().toISOString() }, null, 2) + '\n');
    rmSync(installDir, { recursive: true, force: true });
    renameSync(work, installDir);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  console.log(`[setup-code-server] installed code-server ${CODE_SERVER_VERSION} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return entryScript;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(install({ force: process.argv.includes('--force') }));
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
