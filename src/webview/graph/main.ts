// Entry of the workflow graph editor webview (bundled to dist/webview/graph.js + graph.css).
// Handshake: post `ready` → host answers `init` with the text and the node catalogue.

import '@comfyorg/litegraph/style.css';
import '@vscode/codicons/dist/codicon.css';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import { LGraphEventMode, LiteGraph, type LGraphNode } from '@comfyorg/litegraph';
import {
  WEBVIEW_PROTOCOL_VERSION,
  isHostToGraph,
  type GraphToHost,
  type HostToGraph,
  type RunState,
} from '../../protocol/webview';
import { getVsCodeApi, onHostMessage, patchState } from '../vscodeApi';
import { GraphEditor, type ViewState } from './graphEditor';
import { ExecutionOverlay } from './executionOverlay';
import { CONTROL_WIDGET, registerNodeTypes, type NodeTypeHooks } from './nodeTypes';
import { registerFrontendNodes } from './frontendNodes';
import { TokenCounts } from './tokenCounts';
import type { ObjectInfo } from '../../workflow/objectInfo';
import { applyTheme, readThemeColours, watchTheme, type ThemeColours } from './theme';
import { parseWorkflowText } from './workflowText';
import { PromptTextareas } from './promptTextareas';
import { markUnsupportedInSearch } from './searchMarks';
import { buildGraphPage, type GraphPage } from './page';

interface GraphViewStateStore { view?: ViewState }

const vscode = getVsCodeApi<GraphToHost, GraphViewStateStore>();
const post = (m: GraphToHost) => vscode.postMessage(m);

let page: GraphPage;
let editor: GraphEditor | undefined;
let colours: ThemeColours = readThemeColours();
let readOnly = false;
const overlay = new ExecutionOverlay(() => colours, () => editor?.canvas.setDirty(true, false));
const tokenCounts = new TokenCounts(() => editor?.canvas.setDirty(true, false));
let objectInfo: ObjectInfo = {};
let textareas: PromptTextareas | undefined;
/** Typing recounts a prompt's tokens at most this often (the host holds the tokenizer). */
const DRAFT_INTERVAL_MS = 100;
let draftTimer: ReturnType<typeof setTimeout> | undefined;
let pendingDraft: { node: string; text: string } | undefined;

function postDraft(node: string, text: string): void {
  pendingDraft = { node, text };
  draftTimer ??= setTimeout(() => {
    draftTimer = undefined;
    if (pendingDraft) post({ type: 'promptDraft', ...pendingDraft });
    pendingDraft = undefined;
  }, DRAFT_INTERVAL_MS);
}

const nodeHooks: NodeTypeHooks = {
  widgetChanged: () => editor?.scheduleCheck('widget'),
  canvas: () => editor?.canvas,
  drawOverlay: (node, ctx) => {
    overlay.draw(node, ctx);
    drawModeShade(node.mode, node.size, ctx);
  },
  // The host picks the file and sets the widget as one document edit; nothing changes here.
  upload: (node, input) => { if (!readOnly) post({ type: 'upload', node: String(node.id), widget: input }); },
  footer: (node, widget) => tokenCounts.footer(String(node.id), widget),
  textareas: () => textareas,
};

/** A combo's option list changed (files added to the input folder): future and present nodes. */
function setComboValues(classType: string, input: string, values: string[]): void {
  const entry = objectInfo[classType];
  const group = entry?.input.required?.[input] ? 'required' : entry?.input.optional?.[input] ? 'optional' : undefined;
  if (!entry || !group) return;
  entry.input[group]![input] = [values, entry.input[group]![input]![1] ?? {}];
  registerNodeTypes({ [classType]: entry }, nodeHooks);
  for (const node of editor?.graph.nodes ?? []) {
    if (node.type !== classType) continue;
    const w = node.widgets?.find((x) => x.name === input && x.type === 'combo');
    if (w) (w.options as { values?: unknown }).values = values;
  }
  editor?.canvas.setDirty(true, false);
}
function ensureEditor(): GraphEditor {
  if (editor) return editor;
  const ed = new GraphEditor(page.canvas, {
    onEdit: (workflow, label) => post({ type: 'edit', workflow, label }),
    onViewChanged: (view) => patchState(vscode, { view }),
  });
  editor = ed;
  textareas = new PromptTextareas(page.canvasHost, () => ed.canvas, {
    // The widget has told its node (owner.committed); this names the gesture and redraws.
    commit: () => {
      ed.scheduleCheck('prompt');
      ed.canvas.setDirty(true, false);
    },
    draft: (node, owner) => { if (owner.name === 'text') postDraft(String(node.id), textareas?.element(owner)?.value ?? ''); },
  });
  // "Keep seed": the value the last run used goes into the widget (control set to fixed, so it
  // stays), as one edit. The only way a run's seed reaches the file unless the setting says so.
  const baseMenu = ed.canvas.getNodeMenuOptions.bind(ed.canvas);
  ed.canvas.getNodeMenuOptions = (node) => {
    const items = baseMenu(node);
    if (readOnly) return items;
    const keep = overlay.usedValues(String(node.id)).map((u) => ({
      content: `Keep ${u.widget} ${u.value} (used by the last run)`,
      callback: () => keepUsedValue(node, u.widget, u.value),
    }));
    return (keep.length ? [...keep, null, ...items] : items) as never;
  };
  ed.canvas.onRender = () => textareas?.beginFrame();
  ed.canvas.onDrawOverlay = () => textareas?.endFrame();
  colours = applyTheme(ed.canvas);
  watchTheme(() => { colours = applyTheme(ed.canvas); });
  const fit = () => {
    const r = page.canvasHost.getBoundingClientRect();
    ed.resize(r.width, r.height);
  };
  new ResizeObserver(fit).observe(page.canvasHost);
  fit();
  // Test and debugging handle; the page has no other way in.
  (window as unknown as { __marble: unknown }).__marble = { editor: ed, overlay, tokenCounts, textareas };
  return ed;
}

function keepUsedValue(node: LGraphNode, widget: string, value: number): void {
  const widgets = node.widgets ?? [];
  const i = widgets.findIndex((w) => w.name === widget);
  if (i < 0 || !editor) return;
  widgets[i].value = value;
  if (widgets[i + 1]?.name === CONTROL_WIDGET) widgets[i + 1].value = 'fixed';
  editor.scheduleCheck('keep seed');
  editor.canvas.setDirty(true, true);
}

function showParseError(message: string, line?: number, column?: number, kind?: 'api'): void {
  page.convert.hidden = kind !== 'api' || readOnly;
  const where = line && !message.includes(`line ${line}`) ? ` (line ${line}${column ? `, column ${column}` : ''})` : '';
  page.errorMessage.textContent = message + where;
  page.errorView.hidden = false;
  page.canvasHost.hidden = true;
  // An API-format prompt has no graph to draw, but it runs as it is.
  page.run.toggleAttribute('disabled', kind !== 'api' || readOnly);
}

function showGraph(): void {
  page.errorView.hidden = true;
  page.canvasHost.hidden = false;
  page.run.toggleAttribute('disabled', readOnly);
}

function loadText(text: string, isUpdate: boolean): void {
  const parsed = parseWorkflowText(text);
  if (!parsed.ok) {
    showParseError(parsed.message, parsed.line, parsed.column, parsed.kind);
    return;
  }
  const recovering = !page.errorView.hidden;
  showGraph();
  const ed = ensureEditor();
  try {
    if (isUpdate && !recovering) ed.applyUpdate(parsed.workflow);
    else {
      const { missingTypes } = ed.load(parsed.workflow, isUpdate ? undefined : vscode.getState()?.view);
      // Kept as they are and written back untouched, but Marble has no code for them.
      if (missingTypes.length) setStatus('idle', `Custom nodes Marble does not have (kept, cannot run): ${missingTypes.join(', ')}`);
    }
  } catch (e) {
    showParseError(`This workflow could not be drawn: ${e instanceof Error ? e.message : String(e)}`);
    post({ type: 'log', level: 'error', message: `configure failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}` });
  }
}

const STATE_LABELS: Record<RunState, string> = {
  idle: 'Ready', queued: 'Queued…', running: 'Running…', done: 'Done', error: 'Failed', interrupted: 'Interrupted',
};

function setStatus(state: RunState, message?: string): void {
  page.status.textContent = message ?? STATE_LABELS[state];
  page.status.dataset.state = state;
  const busy = state === 'running' || state === 'queued';
  page.interrupt.toggleAttribute('disabled', !busy);
  page.progress.hidden = !busy;
}

function nodeTitle(id: string): string {
  const node = editor?.node(id);
  return node ? `${node.title} (#${id})` : `#${id}`;
}

interface Problem { text: string; node?: string }

/** Brings a node into view and selects it (a click on a problem). */
function revealNode(id: string): void {
  const node = editor?.node(id);
  if (!editor || !node) return;
  editor.canvas.centerOnNode(node);
  editor.canvas.selectNode(node);
  editor.canvas.setDirty(true, true);
}

function listProblems(problems: Problem[]): void {
  page.problems.replaceChildren(...problems.map((p) => {
    const li = document.createElement('li');
    if (p.node) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'problem-link';
      b.dataset.node = p.node;
      b.title = 'Show this node';
      b.textContent = p.text;
      b.addEventListener('click', () => revealNode(p.node!));
      li.append(b);
    } else {
      li.textContent = p.text;
    }
    return li;
  }));
  page.problems.hidden = problems.length === 0;
}

function onRun(): void {
  if (readOnly) return;
  // The host runs the document text, so the gesture in flight must reach it first; the host
  // orders this edit before the run. "Control after generate" is the host's job (it applies it
  // once, after queueing, whichever way the run started) and arrives here as an update.
  editor?.flush();
  post({ type: 'run' });
  overlay.startRun();
  listProblems([]);
}

function handle(msg: HostToGraph): void {
  switch (msg.type) {
    case 'init': {
      if (msg.version !== WEBVIEW_PROTOCOL_VERSION) {
        showParseError(`Marble's editor (protocol ${WEBVIEW_PROTOCOL_VERSION}) does not match the extension (protocol ${msg.version}). Reload the window.`);
        return;
      }
      readOnly = !!msg.readOnly;
      objectInfo = msg.objectInfo;
      const count = registerNodeTypes(msg.objectInfo, nodeHooks);
      registerFrontendNodes(nodeHooks);
      post({ type: 'log', level: 'debug', message: `registered ${count} node types` });
      setStatus('idle', 'Ready');
      loadText(msg.text, false);
      if (editor && readOnly) editor.canvas.read_only = true;
      return;
    }
    case 'update': loadText(msg.text, true); return;
    case 'tokenCounts': tokenCounts.set(msg.counts, msg.merge); return;
    case 'comboValues': setComboValues(msg.classType, msg.input, msg.values); return;
    case 'controlledValues': overlay.setUsedValues(msg.values); return;
    case 'parseError': showParseError(msg.message, msg.line, msg.column); return;
    case 'status':
      setStatus(msg.state, msg.message);
      if (msg.state !== 'running') overlay.setRunning(null);
      if (msg.state === 'done' || msg.state === 'error' || msg.state === 'interrupted') overlay.endRun();
      return;
    case 'executing':
      overlay.setRunning(msg.node);
      if (msg.node) setStatus('running', `Running ${nodeTitle(msg.node)}`);
      return;
    case 'progress':
      overlay.setProgress(msg.node, msg.value, msg.max);
      page.progress.setAttribute('max', String(Math.max(1, msg.max)));
      page.progress.setAttribute('value', String(msg.value));
      setStatus('running', `${nodeTitle(msg.node)}: ${msg.value}/${msg.max}`);
      return;
    case 'preview': overlay.setPreview(msg.node, msg.dataUrl); return;
    case 'executed': overlay.setImages(msg.node, msg.images.map((i) => i.uri)); return;
    case 'error': {
      // Each problem once: on its node (outline, input line) and in the list, which reveals the
      // node on click. The status line only says that the run failed.
      const problems: Problem[] = [];
      if (msg.nodeErrors) {
        overlay.setNodeErrors(msg.nodeErrors);
        for (const [id, entry] of Object.entries(msg.nodeErrors)) {
          for (const e of entry.errors ?? []) {
            const input = e.extra_info?.input_name;
            const details = e.details && e.details !== input ? ` (${e.details})` : '';
            problems.push({ node: id, text: `${nodeTitle(id)}${input ? ` · ${input}` : ''}: ${e.message}${details}` });
          }
        }
      }
      if (msg.node) {
        overlay.setNodeError(msg.node, msg.message);
        problems.push({ node: msg.node, text: `${nodeTitle(msg.node)}: ${msg.message}` });
      }
      if (problems.length === 0) {
        setStatus('error', msg.message);
        listProblems([]);
        return;
      }
      listProblems(problems);
      setStatus('error', problems.length === 1 ? 'Failed: 1 problem (below)' : `Failed: ${problems.length} problems (below)`);
      return;
    }
  }
}

/** Muted nodes are greyed and bypassed ones tinted purple, as in ComfyUI. */
function drawModeShade(mode: number, size: ArrayLike<number>, ctx: CanvasRenderingContext2D): void {
  if (mode !== LGraphEventMode.NEVER && mode !== LGraphEventMode.BYPASS) return;
  ctx.save();
  ctx.fillStyle = mode === LGraphEventMode.BYPASS ? 'rgba(160, 60, 220, 0.35)' : 'rgba(128, 128, 128, 0.45)';
  ctx.fillRect(0, -LiteGraph.NODE_TITLE_HEIGHT, size[0], size[1] + LiteGraph.NODE_TITLE_HEIGHT);
  ctx.restore();
}

function main(): void {
  page = buildGraphPage(document.getElementById('app') ?? document.body);
  markUnsupportedInSearch();
  page.run.addEventListener('click', onRun);
  page.interrupt.addEventListener('click', () => post({ type: 'interrupt' }));
  page.reopen.addEventListener('click', () => post({ type: 'reopenAsText' }));
  page.convert.addEventListener('click', () => post({ type: 'convertToWorkflow' }));
  setStatus('idle', 'Loading…');
  onHostMessage(isHostToGraph, handle, (x) => {
    // Messages from other sources (extensions of the page itself) are ignored, but typed host
    // messages that fail validation are worth a log line.
    if (x && typeof x === 'object' && 'type' in x) post({ type: 'log', level: 'warn', message: `ignored invalid host message ${JSON.stringify(x).slice(0, 200)}` });
  });
  post({ type: 'ready', version: WEBVIEW_PROTOCOL_VERSION });
}

main();
