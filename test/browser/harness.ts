// Browser tier harness: builds the two webview bundles with the same esbuild options as
// scripts/build.mjs, serves them with the page from renderWebviewHtml (the shipped HTML, strict
// CSP included) over loopback HTTP, and drives headless Debian Chromium with playwright-core.
// A stand-in for acquireVsCodeApi records posted messages in window.__posted and keeps state;
// host messages are delivered with window.postMessage. CSP violations are recorded so tests can
// fail on them.

import * as esbuild from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, extname, normalize, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { WEBVIEW_PROTOCOL_VERSION } from '../../src/protocol/webview';
import { renderWebviewHtml, webviewAssetPaths, type WebviewKind } from '../../src/webview/html';
import { pngChunk } from '../../src/workflow/png';

export const REPO = resolve(__dirname, '../..');
/** Test data copied into the repository (provenance in each folder's README). */
export const FIXTURES = join(REPO, 'test', 'fixtures');
export const SCREENSHOTS = join(REPO, 'test-results', 'screenshots');
/** ComfyUI's default graph, as its UI saves it. */
export const DEFAULT_GRAPH = join(FIXTURES, 'comfyui/default_graph.json');
const CHROMIUM = process.env.MARBLE_CHROMIUM ?? '/usr/bin/chromium';

export interface CspViolation { directive: string; blocked: string; sample: string }

let buildDir: string | undefined;

/** Builds dist/webview/{graph,panel}.{js,css} into a temp dir once per process. */
export async function buildWebviews(): Promise<string> {
  if (buildDir) return buildDir;
  const out = mkdtempSync(join(tmpdir(), 'marble-webview-'));
  await Promise.all((['graph', 'panel'] as const).map((kind) => esbuild.build({
    bundle: true, sourcemap: true, target: 'es2022', logLevel: 'warning',
    platform: 'browser', format: 'iife', loader: { '.ttf': 'dataurl' },
    entryPoints: [join(REPO, `src/webview/${kind}/main.ts`)],
    outfile: join(out, 'dist/webview', `${kind}.js`),
  })));
  buildDir = out;
  process.on('exit', () => rmSync(out, { recursive: true, force: true }));
  return out;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.map': 'application/json', '.png': 'image/png',
};

export interface Served { origin: string; server: Server; nonce: string }

/** Loopback server: /dist/webview/* from the build, /media/* from the repo, /<kind>.html rendered. */
export async function serve(build: string): Promise<Served> {
  const nonce = randomBytes(18).toString('base64url');
  let origin = '';
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const page = /^\/(graph|panel)\.html$/.exec(url.pathname);
    if (page) {
      const kind = page[1] as WebviewKind;
      const assets = webviewAssetPaths(kind);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(renderWebviewHtml({
        kind, nonce, cspSource: origin,
        scriptUri: `${origin}/${assets.script}`,
        styleUris: assets.styles.map((s) => `${origin}/${s}`),
      }));
      return;
    }
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^[/\\]+/, '');
    const base = rel.startsWith(`dist${sep}`) ? build : rel.startsWith(`media${sep}`) ? REPO : undefined;
    const file = base && join(base, rel);
    if (!file || !file.startsWith(base) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return { origin, server, nonce };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A subset of VS Code's Dark Modern theme variables, set the way VS Code sets them (on <html>). */
const DARK_THEME: Record<string, string> = {
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-foreground': '#cccccc',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-editorWidget-background': '#202020',
  '--vscode-editorWidget-border': '#313131',
  '--vscode-sideBar-background': '#181818',
  '--vscode-sideBarSectionHeader-background': '#2b2b2b',
  '--vscode-editorGroupHeader-tabsBackground': '#181818',
  '--vscode-focusBorder': '#0078d4',
  '--vscode-input-background': '#313131',
  '--vscode-input-border': '#3c3c3c',
  '--vscode-input-foreground': '#cccccc',
  '--vscode-input-placeholderForeground': '#989898',
  '--vscode-panel-border': '#2b2b2b',
  '--vscode-errorForeground': '#f85149',
  '--vscode-button-background': '#0078d4',
  '--vscode-button-foreground': '#ffffff',
  '--vscode-menu-background': '#1f1f1f',
  '--vscode-menu-foreground': '#cccccc',
  '--vscode-menu-selectionBackground': '#0078d4',
  '--vscode-menu-selectionForeground': '#ffffff',
  '--vscode-menu-border': '#454545',
  '--vscode-quickInput-background': '#222222',
  '--vscode-quickInput-foreground': '#cccccc',
  '--vscode-widget-shadow': 'rgba(0, 0, 0, 0.36)',
  '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
  '--vscode-font-size': '13px',
};

/** A subset of VS Code's Light Modern theme variables. */
const LIGHT_THEME: Record<string, string> = {
  '--vscode-editor-background': '#ffffff',
  '--vscode-foreground': '#3b3b3b',
  '--vscode-descriptionForeground': '#3b3b3b',
  '--vscode-editorWidget-background': '#f8f8f8',
  '--vscode-editorWidget-border': '#c8c8c8',
  '--vscode-sideBar-background': '#f8f8f8',
  '--vscode-sideBarSectionHeader-background': '#f8f8f8',
  '--vscode-editorGroupHeader-tabsBackground': '#f8f8f8',
  '--vscode-focusBorder': '#005fb8',
  '--vscode-input-background': '#ffffff',
  '--vscode-input-border': '#cecece',
  '--vscode-input-foreground': '#3b3b3b',
  '--vscode-input-placeholderForeground': '#767676',
  '--vscode-panel-border': '#e5e5e5',
  '--vscode-errorForeground': '#f85149',
  '--vscode-button-background': '#005fb8',
  '--vscode-button-foreground': '#ffffff',
  '--vscode-menu-background': '#ffffff',
  '--vscode-menu-foreground': '#3b3b3b',
  '--vscode-menu-selectionBackground': '#005fb8',
  '--vscode-menu-selectionForeground': '#ffffff',
  '--vscode-menu-border': '#cecece',
  '--vscode-quickInput-background': '#f8f8f8',
  '--vscode-quickInput-foreground': '#3b3b3b',
  '--vscode-widget-shadow': 'rgba(0, 0, 0, 0.16)',
  '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
  '--vscode-font-size': '13px',
};

export type TestTheme = 'dark' | 'light';
const THEMES: Record<TestTheme, { vars: Record<string, string>; bodyClass: string }> = {
  dark: { vars: DARK_THEME, bodyClass: 'vscode-dark' },
  light: { vars: LIGHT_THEME, bodyClass: 'vscode-light' },
};

/**
 * Runs in the page before any page script (CDP init scripts are not subject to the page CSP).
 * Kept as a string: tsx's keepNames would inject a `__name` helper the page does not have.
 */
function initScript(theme: Record<string, string>, initialState: unknown, bodyClass = 'vscode-dark'): string {
  return `(() => {
  const posted = [];
  const csp = [];
  let state = ${JSON.stringify(initialState ?? null)} ?? undefined;
  let acquired = false;
  window.__posted = posted;
  window.__csp = csp;
  window.__getState = () => state;
  window.acquireVsCodeApi = () => {
    if (acquired) throw new Error('acquireVsCodeApi may only be called once');
    acquired = true;
    return {
      postMessage: (m) => { posted.push(JSON.parse(JSON.stringify(m))); },
      getState: () => state,
      setState: (s) => { state = s; return s; },
    };
  };
  document.addEventListener('securitypolicyviolation', (e) => {
    csp.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample });
  });
  document.addEventListener('DOMContentLoaded', () => {
    for (const [k, v] of Object.entries(${JSON.stringify(theme)})) document.documentElement.style.setProperty(k, v);
    document.body.classList.add(${JSON.stringify(bodyClass)});
  });
})();`;
}

export interface Webview {
  page: Page;
  posted<T = Record<string, unknown>>(): Promise<T[]>;
  /** Delivers a host → webview message. */
  send(msg: unknown): Promise<void>;
  /** Waits until at least `n` messages were posted (optionally of `type`), returns them. */
  waitForPosted<T = Record<string, unknown>>(n: number, type?: string, timeoutMs?: number): Promise<T[]>;
  violations(): Promise<CspViolation[]>;
  pageErrors: string[];
  close(): Promise<void>;
}

export interface OpenOptions { state?: unknown; width?: number; height?: number; theme?: TestTheme }

export async function openWebview(browser: Browser, served: Served, kind: WebviewKind, opts: OpenOptions = {}): Promise<Webview> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1400, height: opts.height ?? 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  const theme = THEMES[opts.theme ?? 'dark'];
  await page.addInitScript(initScript(theme.vars, opts.state, theme.bodyClass));
  await page.goto(`${served.origin}/${kind}.html`);
  const wv: Webview = {
    page,
    pageErrors,
    posted: () => page.evaluate(() => (window as unknown as { __posted: never[] }).__posted),
    // Resolves once the page has dispatched the message: same-window messages arrive in order,
    // so a sentinel posted after it marks delivery.
    send: (msg) => page.evaluate(`new Promise((resolve) => {
      const token = 'marble-test-sent-' + Math.random();
      const on = (e) => { if (e.data === token) { window.removeEventListener('message', on); resolve(); } };
      window.addEventListener('message', on);
      window.postMessage(${JSON.stringify(msg)}, '*');
      window.postMessage(token, '*');
    })`),
    async waitForPosted<T>(n: number, type?: string, timeoutMs = 5000) {
      await page.waitForFunction(
        ([count, t]) => (window as unknown as { __posted: { type: string }[] }).__posted.filter((m) => !t || m.type === t).length >= (count as number),
        [n, type ?? ''] as const,
        { timeout: timeoutMs },
      );
      const all = await page.evaluate(() => (window as unknown as { __posted: { type: string }[] }).__posted);
      return all.filter((m) => !type || m.type === type) as T[];
    },
    violations: () => page.evaluate(() => (window as unknown as { __csp: CspViolation[] }).__csp),
    close: () => context.close(),
  };
  await wv.waitForPosted(1, 'ready');
  return wv;
}

export interface WebviewPages {
  /** Opens a fresh page of `kind` (see openWebview); it is closed and checked after the test. */
  open(kind: WebviewKind, opts?: OpenOptions): Promise<Webview>;
}

/**
 * Call inside a describe block: one build, server and Chromium for the block. After each test the
 * pages it opened are closed, and the test fails if any logged a CSP violation or a page error.
 */
export function useWebviewPages(): WebviewPages {
  let browser: Browser;
  let served: Served;
  let opened: Webview[] = [];
  before(async () => {
    served = await serve(await buildWebviews());
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    served?.server.close();
  });
  afterEach(async () => {
    const pages = opened;
    opened = [];
    for (const wv of pages) {
      const violations = await wv.violations();
      const errors = wv.pageErrors;
      await wv.close();
      assert.deepEqual(violations, [], 'no CSP violations');
      assert.deepEqual(errors, [], 'no page errors');
    }
  });
  return {
    async open(kind, opts) {
      const wv = await openWebview(browser, served, kind, opts);
      opened.push(wv);
      return wv;
    },
  };
}

/** Sends the graph page its init: `text` as the document, the core node catalogue, dark theme. */
export async function sendGraphInit(wv: Webview, text: string): Promise<void> {
  await wv.send({ type: 'init', version: WEBVIEW_PROTOCOL_VERSION, text, objectInfo: coreObjectInfo(), theme: 'dark' });
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, name);
}

export function readJson<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function coreObjectInfo(): Record<string, unknown> {
  return readJson<{ nodes: Record<string, unknown> }>(join(REPO, 'src/workflow/catalog/coreNodes.json')).nodes;
}

/** An 8×8 solid-colour PNG as a data: URL (readable fixture instead of a base64 blob). */
export function solidPngDataUrl(r: number, g: number, b: number, size = 8): string {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: size }, () => [r, g, b]).flat())]);
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.concat(Array(size).fill(row)))), pngChunk('IEND', Buffer.alloc(0)),
  ]);
  return `data:image/png;base64,${png.toString('base64')}`;
}
