#!/usr/bin/env node
// Runs the VS Code test suite (dist/test/vscode-suite.js) in a real extension host, offline:
// code-server 4.100.3 (VS Code 1.100.3 server + web workbench, from npm) plus headless Debian
// Chromium driven by playwright-core. The workbench accepts extensionDevelopmentPath /
// extensionTestsPath in its URL `payload` and reports the suite's end through
// window.codeAutomationExit, as in VS Code's own browser integration tests
// (docs/vscode-anchors.md §4 option 3 and §4.1).
//
// Usage: node test/vscode/runCodeServer.mjs [--results FILE] [--extension DIR] [--tests FILE]
//                                           [--timeout-ms N] [--verbose] [--keep]
//                                           [--screenshots DIR | --no-screenshots]
//                                           [--only trusted|untrusted]
// Two launches: the main suite with workspace trust disabled, then a small suite
// (MARBLE_SUITE=untrusted) with workspace trust on in a workspace whose settings point Marble at
// workspace paths. The results file holds both together.
// Exit status 0 only when both suites reported exit 0 and their results show no failure.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { install as installCodeServer } from '../../scripts/setup-code-server.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

function parseArgs(argv) {
  const opts = {
    results: path.join(repoRoot, 'test-results', 'vscode.json'),
    extension: repoRoot,
    tests: path.join(repoRoot, 'dist', 'test', 'vscode-suite.js'),
    timeoutMs: Number(process.env.MARBLE_VSCODE_TIMEOUT_MS) || 6 * 60_000,
    verbose: !!process.env.MARBLE_TEST_VERBOSE,
    keep: false,
    only: undefined,
    // The suite's showcase test opens a workflow in the graph editor and the Marble view, then asks.
    screenshots: process.env.MARBLE_SCREENSHOTS === '0' ? undefined : path.join(repoRoot, 'test-results', 'screenshots'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`runCodeServer: ${a} needs a value`);
      return argv[++i];
    };
    if (a === '--results') opts.results = path.resolve(value());
    else if (a === '--extension') opts.extension = path.resolve(value());
    else if (a === '--tests') opts.tests = path.resolve(value());
    else if (a === '--timeout-ms') opts.timeoutMs = Number(value());
    else if (a === '--verbose') opts.verbose = true;
    else if (a === '--keep') opts.keep = true;
    else if (a === '--screenshots') opts.screenshots = path.resolve(value());
    else if (a === '--no-screenshots') opts.screenshots = undefined;
    else if (a === '--only') opts.only = value();
    else throw new Error(`runCodeServer: unknown argument '${a}'`);
  }
  if (!(opts.timeoutMs > 0)) throw new Error('runCodeServer: --timeout-ms must be a positive number');
  if (opts.only !== undefined && opts.only !== 'trusted' && opts.only !== 'untrusted') throw new Error(`runCodeServer: --only expects trusted or untrusted, got '${opts.only}'`);
  return opts;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls code-server's health endpoint; fails fast if the server process has already died. */
async function waitForServer(port, server, deadlineMs) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (server.exitCode !== null) throw new Error(`code-server exited with status ${server.exitCode} before it served`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`code-server did not answer on 127.0.0.1:${port} within ${deadlineMs / 1000} s`);
}

function tail(file, lines) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Environment for code-server: the caller's, minus variables of an enclosing VS Code that
 *  would make the new extension host talk to the wrong editor. */
function serverEnv(resultsFile) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('VSCODE_') || k === 'ELECTRON_RUN_AS_NODE' || k.startsWith('npm_')) continue;
    env[k] = v;
  }
  // The remote extension host is forked from the server and inherits these.
  // MARBLE_REPO_ROOT: fixtures stay in the checkout when --extension is an installed VSIX.
  return { ...env, MARBLE_TEST_RESULTS: resultsFile, MARBLE_TEST_MODE: '1', MARBLE_REPO_ROOT: repoRoot };
}

/**
 * Screenshots of the workbench as the suite left it: the whole window, the editor area (Marble's
 * graph editor) and the side bar (the Marble view). A failure here is reported, never fatal:
 * the pictures are for people, the suite's verdict is the results file.
 */
async function takeScreenshots(page, dir) {
  try {
    mkdirSync(dir, { recursive: true });
    // Webviews paint asynchronously inside nested iframes; give the last frame time to land.
    await page.waitForTimeout(1000);
    const shots = [
      ['vscode-workbench.png', null],
      ['vscode-graph-editor.png', '.part.editor'],
      ['vscode-panel.png', '.part.sidebar'],
    ];
    if (process.env.MARBLE_SCREENSHOT_DEBUG) {
      for (const f of page.frames()) {
        const info = await f.evaluate(() => {
          const app = document.getElementById('app');
          const r = app?.getBoundingClientRect();
          return `${document.body?.innerHTML.length ?? 0} chars, #app ${r ? `${r.width}x${r.height}` : 'none'}, ${innerWidth}x${innerHeight}`;
        }).catch((e) => `(${e.message.slice(0, 80)})`);
        console.log(`[vscode] frame ${f.url().slice(0, 120)}: ${info}`);
      }
    }
    for (const [name, selector] of shots) {
      const file = path.join(dir, name);
      const target = selector ? page.locator(selector).first() : page;
      if (selector && !(await target.isVisible())) {
        console.warn(`[vscode] screenshot ${name}: ${selector} is not visible`);
        continue;
      }
      await target.screenshot({ path: file });
      console.log(`[vscode] screenshot ${path.relative(repoRoot, file)}`);
    }
  } catch (err) {
    console.warn(`[vscode] screenshots failed: ${err instanceof Error ? err.message : err}`);
  }
}

async function killGroup(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  // code-server forks the extension host, pty host and file watcher: end the whole group.
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
  if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return;
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  await Promise.race([exited, sleep(2000)]);
}

export async function runCodeServerTests(opts) {
  const t0 = Date.now();
  const chromiumPath = process.env.MARBLE_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(opts.tests)) throw new Error(`runCodeServer: the suite ${opts.tests} does not exist; run 'node scripts/build.mjs' first`);
  if (!existsSync(path.join(opts.extension, 'package.json'))) throw new Error(`runCodeServer: ${opts.extension} has no package.json (not an extension folder)`);
  if (!existsSync(chromiumPath)) throw new Error(`runCodeServer: no Chromium at ${chromiumPath}; install it with 'apt-get install -y chromium' (or set MARBLE_CHROMIUM)`);
  const entry = installCodeServer();

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'marble-vscode-'));
  const workspace = path.join(tmp, 'workspace');
  const userData = path.join(tmp, 'user-data');
  cpSync(path.join(repoRoot, 'test', 'vscode', 'workspace'), workspace, { recursive: true });
  if (opts.untrusted) {
    // Workspace values Restricted Mode must ignore (modelsFolders is machine-scoped as well).
    mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({
      'marble.modelsFolders': [path.join(workspace, 'evil-models')],
      'marble.outputFolder': 'evil-output',
      'marble.inputFolder': 'evil-input',
      'marble.defaultWorkflow': 'evil.workflow.json',
    }, null, 2));
  }
  mkdirSync(path.join(userData, 'User'), { recursive: true });
  writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({
    // Untrusted launch: trust is on and the folder stays untrusted, without the modal prompt.
    ...(opts.untrusted ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never' } : {}),
    'workbench.startupEditor': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
  }, null, 2));
  rmSync(opts.results, { force: true });
  mkdirSync(path.dirname(opts.results), { recursive: true });

  const port = await freePort();
  const serverLog = path.join(tmp, 'code-server.log');
  // Real generations in the suite run on the project's generated default model (no model hub here).
  const models = path.join(tmp, 'models');
  const gen = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'tools/modelgen/cli.ts'), '--default-models', models], { cwd: repoRoot, encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`runCodeServer: generating the test model failed: ${gen.stderr || gen.stdout}`);
  // The suite's showcase test writes `ready` here when the workbench shows what should be
  // photographed, and waits for `taken`: views are still live then (after the suite ends, VS Code
  // disposes webview views with the extension host).
  const signalDir = path.join(tmp, 'screenshot-signal');
  mkdirSync(signalDir, { recursive: true });
  const logStream = createWriteStream(serverLog);
  const server = spawn(process.execPath, [
    entry,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry', '--disable-update-check', ...(opts.untrusted ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override', '--ignore-last-opened',
    '--user-data-dir', userData,
    '--extensions-dir', path.join(tmp, 'extensions'),
    '--config', path.join(tmp, 'config.yaml'),
    workspace,
  ], { env: { ...serverEnv(opts.results), MARBLE_MODELS: models, MARBLE_SCREENSHOT_SIGNAL: signalDir, ...(opts.untrusted ? { MARBLE_SUITE: 'untrusted' } : {}) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  for (const s of [server.stdout, server.stderr]) {
    s.pipe(logStream, { end: false });
    if (opts.verbose) s.on('data', (d) => process.stdout.write(`[code-server] ${d}`));
  }

  let browser;
  let exitCode;
  let failure;
  try {
    await waitForServer(port, server, 30_000);
    console.log(`[vscode] code-server ${port} up in ${((Date.now() - t0) / 1000).toFixed(1)} s; opening the workbench`);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
    // Large enough that the graph editor and the Marble view are both readable in the screenshots.
    const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();

    let onExit;
    const exited = new Promise((r) => { onExit = r; });
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = Array.isArray(args) ? args.map(String).join(' ') : String(args);
      // The marketplace lookup fails on a closed network and is harmless (docs/vscode-anchors.md §4.1).
      if (!opts.verbose && /ENOTFOUND open-vsx\.org/.test(text)) return;
      (type === 'error' ? process.stderr : process.stdout).write(text.endsWith('\n') ? text : text + '\n');
    });
    await page.exposeFunction('codeAutomationExit', (code) => onExit(Number(code)));
    page.on('pageerror', (err) => console.error(`[vscode] workbench page error: ${err.message}`));

    const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(opts.extension)],
      ['extensionTestsPath', remote(opts.tests)],
      ['skipWelcome', 'true'],
      ['skipReleaseNotes', 'true'],
    ];
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);

    let timer;
    const timedOut = new Promise((r) => { timer = setTimeout(() => r('timeout'), opts.timeoutMs); });
    const serverDied = new Promise((r) => server.once('exit', (c) => r(`server-exit:${c}`)));
    const browserDied = new Promise((r) => browser.once('disconnected', () => r('browser-disconnected')));
    let shotsDone = false;
    const shooter = setInterval(() => {
      if (shotsDone || !existsSync(path.join(signalDir, 'ready'))) return;
      shotsDone = true;
      const shots = opts.screenshots ? takeScreenshots(page, opts.screenshots) : Promise.resolve();
      void shots.finally(() => writeFileSync(path.join(signalDir, 'taken'), ''));
    }, 200);
    const outcome = await Promise.race([exited, timedOut, serverDied, browserDied]);
    clearTimeout(timer);
    clearInterval(shooter);
    if (typeof outcome === 'number') exitCode = outcome;
    else if (outcome === 'timeout') failure = `the suite did not finish within ${opts.timeoutMs / 1000} s`;
    else if (outcome === 'browser-disconnected') failure = 'Chromium closed or crashed before the suite finished';
    else failure = `code-server stopped (${outcome}) before the suite finished`;
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await killGroup(server);
    logStream.end();
  }

  let results;
  if (existsSync(opts.results)) {
    try { results = JSON.parse(readFileSync(opts.results, 'utf8')); } catch (err) { failure ??= `unreadable results file ${opts.results}: ${err.message}`; }
  }
  if (!failure && !results) failure = `the suite exited with ${exitCode} but wrote no results to ${opts.results} (it crashed before or while running tests)`;
  if (failure) {
    console.error(`[vscode] FAILED: ${failure}`);
    console.error(`[vscode] last lines of the code-server log (${serverLog}):\n${tail(serverLog, 40)}`);
  }
  if (opts.keep || failure) console.log(`[vscode] temp folder kept: ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
  console.log(`[vscode] done in ${((Date.now() - t0) / 1000).toFixed(1)} s, exit code ${exitCode ?? 'none'}`);
  const ok = !failure && exitCode === 0 && results && results.failed === 0;
  return { ok, exitCode, results, failure };
}

/** Both launches; the results file gets their sum (a launch without results counts as failed). */
export async function runBothSuites(opts) {
  const phases = [];
  if (opts.only !== 'untrusted') phases.push({ name: 'trusted', opts: { ...opts, untrusted: false } });
  if (opts.only !== 'trusted') {
    phases.push({ name: 'untrusted', opts: { ...opts, untrusted: true, screenshots: undefined, results: opts.results.replace(/(\.json)?$/, '-untrusted.json') } });
  }
  const sum = { passed: 0, failed: 0, pending: 0 };
  let ok = true;
  for (const phase of phases) {
    console.log(`[vscode] === ${phase.name} workspace suite`);
    const r = await runCodeServerTests(phase.opts);
    ok &&= r.ok;
    sum.passed += r.results?.passed ?? 0;
    sum.pending += r.results?.pending ?? 0;
    sum.failed += r.results?.failed ?? 0;
    if (!r.ok && !(r.results?.failed > 0)) sum.failed += 1;
  }
  if (phases.length > 1) {
    mkdirSync(path.dirname(opts.results), { recursive: true });
    const tmp = `${opts.results}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(sum) + '\n');
    renameSync(tmp, opts.results);
  }
  return { ok, results: sum };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { ok } = await runBothSuites(parseArgs(process.argv.slice(2)));
    process.exit(ok ? 0 : 1);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
