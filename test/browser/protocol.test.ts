// Node-only tests of the pure webview modules (no browser): the protocol validators the host
// trusts, the HTML/CSP shell, and the workflow text reader behind the parse-error view.
import assert from 'node:assert/strict';
import {
  WEBVIEW_PROTOCOL_VERSION, generateParamsProblem, isGraphMessage, isHostToGraph, isHostToPanel, isPanelMessage,
} from '../../src/protocol/webview';
import { renderWebviewHtml, webviewCsp } from '../../src/webview/html';
import { lineColumnAt, parseWorkflowText } from '../../src/webview/graph/workflowText';

const params = {
  prompt: 'p', negative: '', model: 'm', width: 512, height: 512, steps: 20, cfg: 8,
  sampler: 'euler', scheduler: 'normal', seed: 1, seedMode: 'fixed', batch: 1,
};

describe('webview protocol validators', () => {
  it('accepts well-formed graph messages and rejects malformed ones', () => {
    assert.equal(isGraphMessage({ type: 'ready', version: WEBVIEW_PROTOCOL_VERSION }), true);
    assert.equal(isGraphMessage({ type: 'edit', workflow: { nodes: [], links: [] }, label: 'move' }), true);
    assert.equal(isGraphMessage({ type: 'reopenAsText' }), true);
    assert.equal(isGraphMessage({ type: 'promptDraft', node: '6', text: 'a cat' }), true);
    assert.equal(isGraphMessage({ type: 'promptDraft', node: '', text: 'a cat' }), false, 'draft without a node');
    assert.equal(isGraphMessage({ type: 'promptDraft', node: '6', text: 3 }), false, 'draft text must be a string');
    assert.equal(isGraphMessage({ type: 'edit', workflow: { links: [] } }), false, 'edit without nodes[]');
    assert.equal(isGraphMessage({ type: 'edit', workflow: '{"nodes":[]}' }), false, 'edit as text');
    assert.equal(isGraphMessage({ type: 'log', level: 'fatal', message: 'x' }), false);
    assert.equal(isGraphMessage({ type: 'ready' }), false);
    assert.equal(isGraphMessage({ type: 'generate', ...params }), false, 'panel message on the graph channel');
    assert.equal(isGraphMessage(null), false);
    assert.equal(isGraphMessage([{ type: 'run' }]), false);
  });

  it('validates generate parameters with messages that name the field', () => {
    assert.equal(isPanelMessage({ type: 'generate', ...params }), true);
    assert.equal(generateParamsProblem({ ...params, steps: 0 }), "generate: 'steps' must be an integer in [1, 10000], got 0");
    assert.equal(generateParamsProblem({ ...params, width: 512.5 }), "generate: 'width' must be an integer in [64, 16384], got 512.5");
    assert.equal(generateParamsProblem({ ...params, seed: 2 ** 60 }), `generate: 'seed' must be an integer in [0, ${Number.MAX_SAFE_INTEGER}], got ${2 ** 60}`);
    assert.equal(generateParamsProblem({ ...params, cfg: NaN }), "generate: 'cfg' must be a number in [0, 100], got null");
    assert.equal(generateParamsProblem({ ...params, seedMode: 'random' }), `generate: 'seedMode' must be one of fixed/increment/decrement/randomize, got "random"`);
    assert.equal(generateParamsProblem({ ...params, prompt: 3 }), "generate: 'prompt' must be a string");
    assert.equal(isPanelMessage({ type: 'galleryAction', action: 'delete', path: '/a.png' }), false);
    assert.equal(isPanelMessage({ type: 'galleryAction', action: 'reveal', path: '' }), false);
    assert.equal(isPanelMessage({ type: 'galleryAction', action: 'reveal', path: '/a.png' }), true);
  });

  it('checks host messages on the webview side', () => {
    assert.equal(isHostToGraph({ type: 'init', version: 1, text: '{}', objectInfo: {} }), true);
    assert.equal(isHostToGraph({ type: 'init', version: 1, text: {}, objectInfo: {} }), false);
    assert.equal(isHostToGraph({ type: 'executing', node: null }), true);
    assert.equal(isHostToGraph({ type: 'executed', node: '9', images: [{ uri: 'x' }] }), false);
    assert.equal(isHostToGraph({ type: 'status', state: 'sleeping' }), false);
    assert.equal(isHostToPanel({ type: 'result', images: [{ path: '/a', uri: 'u', filename: 'a' }], nextSeed: 3 }), true);
    assert.equal(isHostToPanel({ type: 'init', version: 1, models: ['a'], samplers: [], schedulers: [], defaults: {}, gallery: [{}] }), false);
  });
});

describe('renderWebviewHtml', () => {
  const base = { kind: 'graph' as const, scriptUri: 'https://res/dist/webview/graph.js', styleUris: ['https://res/dist/webview/graph.css', 'https://res/media/graph.css'], cspSource: 'https://res', nonce: 'AbCdEfGh0123456789_-' };

  it('emits the strict CSP with the nonce on every script and stylesheet', () => {
    const html = renderWebviewHtml(base);
    const csp = webviewCsp('https://res', base.nonce);
    assert.equal(csp, "default-src 'none'; img-src https://res data: blob:; style-src https://res 'nonce-AbCdEfGh0123456789_-'; font-src data:; script-src 'nonce-AbCdEfGh0123456789_-';");
    assert.ok(html.includes(`content="${csp.replace(/'/g, '&#39;')}"`));
    assert.equal(html.match(/<script /g)?.length, 1);
    assert.ok(html.includes(`<script nonce="${base.nonce}" src="https://res/dist/webview/graph.js">`));
    assert.equal(html.match(new RegExp(`<link rel="stylesheet"[^>]* nonce="${base.nonce}"`, 'g'))?.length, 2);
    assert.ok(html.includes('id="vscode-codicon-stylesheet" nonce='), 'first stylesheet is the codicon one');
    assert.ok(!/style="/.test(html), 'no inline style attributes');
  });

  it('escapes URIs and rejects unsafe nonces and sources', () => {
    const html = renderWebviewHtml({ ...base, scriptUri: 'https://res/a"><script>alert(1)</script>' });
    assert.ok(!html.includes('<script>alert(1)'));
    assert.throws(() => renderWebviewHtml({ ...base, nonce: "abc' 'unsafe-inline" }), /nonce must be/);
    assert.throws(() => renderWebviewHtml({ ...base, cspSource: "https://x; script-src *" }), /not a list of CSP source/);
    assert.throws(() => renderWebviewHtml({ ...base, cspSource: "https://x 'unsafe-inline'" }), /not a list of CSP source/);
    assert.match(renderWebviewHtml({ ...base, cspSource: "'self' https://*.vscode-cdn.net" }), /img-src &#39;self&#39; https:\/\/\*\.vscode-cdn\.net data:/);
    assert.throws(() => renderWebviewHtml({ ...base, kind: 'sidebar' as never }), /kind must be 'graph' or 'panel'/);
  });
});

describe('parseWorkflowText', () => {
  it('reads a workflow and reports JSON errors with line and column', () => {
    const ok = parseWorkflowText('{"nodes": [], "links": []}');
    assert.deepEqual(ok, { ok: true, workflow: { nodes: [], links: [] } });
    const bad = parseWorkflowText('{\n  "nodes": [\n    {"id": 1,,}\n');
    assert.equal(bad.ok, false);
    if (!bad.ok) {
      assert.match(bad.message, /^Invalid JSON: /);
      assert.equal(bad.line, 3);
      assert.equal(bad.column, 14);
    }
  });

  it('explains non-workflow JSON', () => {
    const api = parseWorkflowText('{"3": {"class_type": "KSampler", "inputs": {}}}');
    assert.equal(api.ok, false);
    if (!api.ok) assert.match(api.message, /API-format prompt/);
    if (!api.ok) assert.equal(api.kind, 'api', 'the page offers Convert to workflow');
    const arr = parseWorkflowText('[1, 2]');
    if (!arr.ok) assert.equal(arr.message, 'Expected a workflow object at the top level, got an array.');
    assert.equal(arr.ok, false);
    // An empty file is a blank canvas, not an error.
    const empty = parseWorkflowText('  \n');
    assert.deepEqual(empty, { ok: true, workflow: { last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {}, extra: {}, version: 0.4 } });
    const noNodes = parseWorkflowText('{"links": []}');
    if (!noNodes.ok) assert.equal(noNodes.message, "Not a ComfyUI workflow: the top-level 'nodes' array is missing.");
  });

  it('maps offsets to 1-based line and column', () => {
    assert.deepEqual(lineColumnAt('ab\ncd\nef', 0), { line: 1, column: 1 });
    assert.deepEqual(lineColumnAt('ab\ncd\nef', 4), { line: 2, column: 2 });
    assert.deepEqual(lineColumnAt('ab\ncd\nef', 99), { line: 3, column: 3 });
  });
});
