#!/usr/bin/env node
// `npm test`: build, then the three test tiers in sequence, then one table and one totals line.
//   unit    — mocha + tsx over test/unit/**/*.test.ts (pure Node)
//   browser — mocha + tsx over test/browser/**/*.test.ts (playwright-core + /usr/bin/chromium)
//   vscode  — dist/test/vscode-suite.js in a real extension host (code-server + Chromium)
// Each tier leaves test-results/<tier>.json = {passed, failed, pending}. A tier that crashes,
// hangs or cannot start counts as failed with its reason; it never reads as 0 tests.
//
// Usage: node scripts/test-all.mjs [unit] [browser] [vscode] [--no-build]
// The last line printed is exactly "N passed, N failed, N skipped"; exit status 1 if anything failed.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(repoRoot, 'test-results');
const mochaBin = path.join(repoRoot, 'node_modules', 'mocha', 'bin', 'mocha.js');
const reporter = path.join(repoRoot, 'scripts', 'mocha-summary-reporter.cjs');

const MIN = 60_000;
const TIERS = {
  unit: { kind: 'mocha', dir: 'test/unit', needsBuild: false, timeoutMs: 45 * MIN, testTimeoutMs: MIN },
  browser: { kind: 'mocha', dir: 'test/browser', needsBuild: true, timeoutMs: 20 * MIN, testTimeoutMs: MIN },
  vscode: { kind: 'vscode', needsBuild: true, timeoutMs: 15 * MIN },
};
// Tier limits are hang bounds, not speed checks: the unit tier includes the full-size ComfyUI
// parity run (regenerating and converting a 2 GB checkpoint on a first run).
// After mocha reports the end of its run, a process still alive this long later is held open
// by a leaked handle (a server, a child process, a timer).
const EXIT_GRACE_MS = 30_000;

function parseArgs(argv) {
  const tiers = [];
  let build = true;
  for (const a of argv) {
    if (a === '--no-build') build = false;
    else if (Object.hasOwn(TIERS, a)) tiers.push(a);
    else throw new Error(`test-all: unknown argument '${a}' (tiers: ${Object.keys(TIERS).join(', ')}; option: --no-build)`);
  }
  return { tiers: tiers.length ? tiers : Object.keys(TIERS), build };
}

function findTestFiles(dir) {
  const abs = path.join(repoRoot, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}

function writeJson(file, value) {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value) + '\n');
  renameSync(tmp, file);
}

function readSummary(file) {
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8'));
    if ([s.passed, s.failed, s.pending].every((n) => Number.isInteger(n) && n >= 0)) return s;
  } catch {
    // fall through: an unreadable file is treated like a missing one
  }
  return undefined;
}

/** Runs a command with inherited stdio; resolves with its exit status, whether it hung, and when. */
function runCommand(cmd, args, { timeoutMs, env, doneMarker }) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    let timedOut = false;
    let leaked = false;
    const killTimer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    // Once the results file exists the run is over; a process that then lingers is killed
    // (and reported) rather than stalling CI.
    let graceTimer;
    const poll = doneMarker && setInterval(() => {
      if (!graceTimer && existsSync(doneMarker)) {
        graceTimer = setTimeout(() => { leaked = true; child.kill('SIGKILL'); }, EXIT_GRACE_MS);
      }
    }, 500);
    child.once('error', (err) => {
      clearTimeout(killTimer); clearTimeout(graceTimer); clearInterval(poll);
      resolve({ status: null, error: err.message, timedOut, leaked });
    });
    child.once('exit', (status, signal) => {
      clearTimeout(killTimer); clearTimeout(graceTimer); clearInterval(poll);
      resolve({ status, signal, timedOut, leaked });
    });
  });
}

async function runTier(name, tier) {
  const out = path.join(resultsDir, `${name}.json`);
  rmSync(out, { force: true });
  let cmd;
  let args;
  if (tier.kind === 'mocha') {
    const files = findTestFiles(tier.dir);
    if (files.length === 0) {
      const summary = { passed: 0, failed: 0, pending: 0 };
      writeJson(out, summary);
      return { ...summary, note: `no test files in ${tier.dir}` };
    }
    cmd = process.execPath;
    args = ['--import=tsx', mochaBin, '--reporter', reporter, '--reporter-option', `out=${out}`,
      // A stray .only would silently skip the rest of the tier in CI.
      ...(process.env.CI ? ['--forbid-only'] : []),
      // Mocha's timeouts are hang bounds here, not speed checks (speed lives in bench/): on a
      // loaded 2-core machine a CPU-bound test can take several times its usual second or two.
      '--timeout', String(tier.testTimeoutMs),
      `${tier.dir}/**/*.test.ts`];
  } else {
    cmd = process.execPath;
    args = [path.join(repoRoot, 'test', 'vscode', 'runCodeServer.mjs'), '--results', out];
  }
  const run = await runCommand(cmd, args, { timeoutMs: tier.timeoutMs, doneMarker: tier.kind === 'mocha' ? out : undefined });
  const summary = readSummary(out);
  let error;
  if (run.error) error = `could not start: ${run.error}`;
  else if (run.timedOut) error = `killed after ${tier.timeoutMs / MIN} min without finishing`;
  else if (!summary) error = `crashed (exit ${run.status ?? run.signal}) before reporting results; see the output above`;
  else if (run.status !== 0 && summary.failed === 0 && !run.leaked) error = `exited with ${run.status ?? run.signal} although no test failed; see the output above`;
  const result = summary ? { ...summary } : { passed: 0, failed: 0, pending: 0 };
  if (error) {
    result.failed = Math.max(1, result.failed);
    result.error = error;
    writeJson(out, result);
  }
  if (run.leaked) result.note = `did not exit within ${EXIT_GRACE_MS / 1000} s of finishing (a leaked handle?); killed`;
  return result;
}

function printTable(rows) {
  const header = ['tier', 'passed', 'failed', 'skipped', 'time', 'status'];
  const lines = rows.map((r) => [r.name, r.passed, r.failed, r.pending, r.time, r.status].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i >= 1 && i <= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  console.log('\n' + fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
}

async function ensurePrerequisites(tiers) {
  const problems = [];
  if (!existsSync('/usr/bin/chromium')) {
    if (process.getuid?.() === 0) {
      console.log('\n=== prerequisites: apt-get install chromium (browser and vscode tiers)');
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const u = await runCommand('apt-get', ['update'], { timeoutMs: 10 * MIN, env });
      const i = u.status === 0 ? await runCommand('apt-get', ['install', '-y', 'chromium'], { timeoutMs: 20 * MIN, env }) : u;
      if (i.status !== 0) problems.push('apt-get install chromium failed');
    } else {
      problems.push('/usr/bin/chromium is missing: run `sudo apt-get install -y chromium`');
    }
  }
  if (tiers.includes('vscode')) {
    console.log('\n=== prerequisites: code-server (cached in .cache/code-server)');
    const r = await runCommand(process.execPath, [path.join(repoRoot, 'scripts', 'setup-code-server.mjs')], { timeoutMs: 20 * MIN });
    if (r.status !== 0) problems.push('code-server setup failed');
  }
  for (const p of problems) console.error(`[test-all] ${p}`);
}

async function main() {
  const { tiers, build } = parseArgs(process.argv.slice(2));
  const rows = [];
  let buildFailed = false;
  if (build && tiers.some((t) => TIERS[t].needsBuild)) {
    console.log('\n=== build: node scripts/build.mjs');
    const t0 = Date.now();
    const r = await runCommand(process.execPath, [path.join(repoRoot, 'scripts', 'build.mjs')], { timeoutMs: 10 * MIN });
    buildFailed = r.status !== 0;
    rows.push({ name: 'build', passed: '-', failed: buildFailed ? 1 : 0, pending: '-', time: `${((Date.now() - t0) / 1000).toFixed(1)}s`, status: buildFailed ? `FAILED (exit ${r.status ?? r.signal ?? r.error})` : 'ok' });
  }
  // A fresh machine has neither Debian's chromium nor code-server; `npm test` alone must work there.
  if (tiers.includes('browser') || tiers.includes('vscode')) {
    // Problems are printed here; the tiers that need the missing piece then fail with their own reason.
    await ensurePrerequisites(tiers);
  }
  for (const name of tiers) {
    const tier = TIERS[name];
    const t0 = Date.now();
    let result;
    if (buildFailed && tier.needsBuild) {
      // Running against stale or missing bundles would report results for code that was not built.
      result = { passed: 0, failed: 1, pending: 0, error: 'not run: the build failed' };
      writeJson(path.join(resultsDir, `${name}.json`), result);
    } else {
      console.log(`\n=== ${name} tier`);
      result = await runTier(name, tier);
    }
    const status = result.error ? `FAILED: ${result.error}` : result.failed > 0 ? 'FAILED' : result.note ?? 'ok';
    if (result.error) console.error(`\n[test-all] ${name} tier ${result.error}`);
    else if (result.note) console.log(`[test-all] ${name} tier: ${result.note}`);
    rows.push({ name, ...result, time: `${((Date.now() - t0) / 1000).toFixed(1)}s`, status });
  }
  const tierRows = rows.filter((r) => r.name !== 'build');
  const total = (k) => tierRows.reduce((s, r) => s + r[k], 0) + (k === 'failed' && buildFailed ? 1 : 0);
  printTable(rows);
  const passed = total('passed');
  const failed = total('failed');
  const skipped = total('pending');
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((err) => {
  console.error(`[test-all] ${err instanceof Error ? err.message : err}`);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
