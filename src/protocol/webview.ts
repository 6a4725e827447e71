// Host ↔ webview messages for Marble's two webviews: the workflow graph editor (custom text editor
// over `*.workflow.json`) and the generation panel. One union per direction, keyed by a literal
// `type`. Host and webviews ship in one VSIX, yet a webview restored from a stale bundle (reload
// after update) can still talk to a newer host, so `ready`/`init` carry a protocol version and
// the webview refuses to run on a mismatch instead of misreading messages.
//
// Pure module: no vscode, no DOM, no Node. Both sides import it.

import type { ObjectInfo } from '../workflow/objectInfo';

export const WEBVIEW_PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Shared shapes

/** An image the webview can show: `uri` is a webview URI (asWebviewUri) or a data: URL. */
export interface WebviewImage {
  uri: string;
  filename: string;
}

export type RunState = 'idle' | 'queued' | 'running' | 'done' | 'error' | 'interrupted';
export const RUN_STATES: readonly RunState[] = ['idle', 'queued', 'running', 'done', 'error', 'interrupted'];

export type ThemeKind = 'light' | 'dark' | 'highContrast' | 'highContrastLight';

/** ComfyUI `/prompt` node_errors: `{[nodeId]: {errors, class_type}}`; `input_name` names the input. */
export interface NodeErrorDetail {
  type: string;
  message: string;
  details?: string;
  extra_info?: { input_name?: string; [key: string]: unknown };
}
export type NodeErrors = Record<string, { errors: NodeErrorDetail[]; class_type?: string; dependent_outputs?: string[] }>;

// ---------------------------------------------------------------------------------------------
// Graph editor: webview → host

export interface GraphReady { type: 'ready'; version: number }
/**
 * The whole re-serialised workflow (UI format 0.4, `serialize({sortNodes: true})`, typed arrays
 * already turned into plain arrays). The host formats it with the document's indentation and
 * applies a minimal WorkspaceEdit computed by diffing text. `label` names the gesture (for logs).
 */
export interface GraphEdit { type: 'edit'; workflow: Record<string, unknown>; label?: string }
export interface GraphRun { type: 'run' }
export interface GraphInterrupt { type: 'interrupt' }
/** Parse-error view's button: reopen the document with the plain text editor. */
export interface GraphReopenAsText { type: 'reopenAsText' }
export interface GraphLog { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
/**
 * An upload button (ComfyUI's `upload` widget of LoadImage) was clicked: the host picks a file,
 * copies it into the input folder and sets the node's `widget` combo to it.
 */
export interface GraphUpload { type: 'upload'; node: string; widget: string }

/** The parse-error view's "Convert to Workflow" (API-format prompt → UI workflow, one edit). */
export interface GraphConvertToWorkflow { type: 'convertToWorkflow' }
/** A prompt being typed (not yet committed): the host answers with its token count (`merge`). */
export interface GraphPromptDraft { type: 'promptDraft'; node: string; text: string }

export type GraphToHost = GraphReady | GraphEdit | GraphRun | GraphInterrupt | GraphReopenAsText | GraphLog | GraphUpload | GraphPromptDraft | GraphConvertToWorkflow;

// Graph editor: host → webview

export interface GraphInit {
  type: 'init';
  version: number;
  /** The document text. It may be invalid JSON: the webview then shows the parse-error view. */
  text: string;
  objectInfo: ObjectInfo;
  theme?: ThemeKind;
  readOnly?: boolean;
}
/** The document changed (external edit, undo/redo, revert). */
export interface GraphUpdate { type: 'update'; text: string }
export interface GraphParseError { type: 'parseError'; message: string; line?: number; column?: number }
export interface GraphStatus { type: 'status'; state: RunState; message?: string }
/** `node` null: the run finished (ComfyUI sends `executing {node: null}` at the end). */
export interface GraphExecuting { type: 'executing'; node: string | null }
export interface GraphProgress { type: 'progress'; node: string; value: number; max: number }
export interface GraphPreview { type: 'preview'; node: string; dataUrl: string }
export interface GraphExecuted { type: 'executed'; node: string; images: WebviewImage[] }
/** Validation failure (`nodeErrors`) or an execution error on one node (`node`). */
export interface GraphError { type: 'error'; message: string; node?: string; nodeErrors?: NodeErrors }

/** Prompt length per text-encoder node, from the same tokenizer the encoder runs. */
export interface TokenCount { tokens: number; chunks: number }
/** `merge`: update only the nodes given (a draft's count), else replace every count. */
export interface GraphTokenCounts { type: 'tokenCounts'; counts: Record<string, TokenCount>; merge?: boolean }
/** New option list for one combo input of one node class (e.g. LoadImage's images after an upload). */
export interface GraphComboValues { type: 'comboValues'; classType: string; input: string; values: string[] }

/**
 * The values a run used for widgets with a non-fixed control_after_generate (seeds): shown on
 * the node, with a "Keep seed" action that writes one into the document.
 */
export interface GraphControlledValues { type: 'controlledValues'; values: { node: string; widget: string; value: number }[] }

export type HostToGraph =
  | GraphInit
  | GraphControlledValues
  | GraphTokenCounts
  | GraphComboValues
  | GraphUpdate
  | GraphParseError
  | GraphStatus
  | GraphExecuting
  | GraphProgress
  | GraphPreview
  | GraphExecuted
  | GraphError;

// ---------------------------------------------------------------------------------------------
// Generation panel

export type SeedMode = 'fixed' | 'increment' | 'decrement' | 'randomize';
export const SEED_MODES: readonly SeedMode[] = ['fixed', 'increment', 'decrement', 'randomize'];

export interface GenerateParams {
  prompt: string;
  negative: string;
  model: string;
  width: number;
  height: number;
  steps: number;
  cfg: number;
  sampler: string;
  scheduler: string;
  /** The seed of the next run; the host applies `seedMode` after it (ComfyUI semantics). */
  seed: number;
  seedMode: SeedMode;
  batch: number;
}

export type GalleryActionKind = 'insert' | 'open' | 'reveal' | 'copyPath' | 'openAsWorkflow';
export const GALLERY_ACTIONS: readonly GalleryActionKind[] = ['insert', 'open', 'reveal', 'copyPath', 'openAsWorkflow'];

export interface GalleryItem {
  /** File system path (what the host acts on). */
  path: string;
  /** Webview URI for the `<img>`. */
  uri: string;
  filename: string;
  prompt?: string;
  seed?: number;
  width?: number;
  height?: number;
  /** ms since epoch */
  createdAt?: number;
}

// Panel: webview → host
export interface PanelReady { type: 'ready'; version: number }
export interface PanelGenerate extends GenerateParams { type: 'generate' }
export interface PanelInterrupt { type: 'interrupt' }
export interface PanelGalleryAction { type: 'galleryAction'; action: GalleryActionKind; path: string }

export type PanelToHost = PanelReady | PanelGenerate | PanelInterrupt | PanelGalleryAction;

// Panel: host → webview
export interface PanelInit {
  type: 'init';
  version: number;
  models: string[];
  samplers: string[];
  schedulers: string[];
  defaults: GenerateParams;
  gallery: GalleryItem[];
}
export interface PanelStatus { type: 'status'; state: RunState; message?: string }
export interface PanelProgress { type: 'progress'; value: number; max: number; node?: string }
export interface PanelPreview { type: 'preview'; dataUrl: string }
/** A finished run; `nextSeed` is the seed after `seedMode` was applied, shown in the seed field. */
export interface PanelResult { type: 'result'; images: GalleryItem[]; nextSeed?: number }
export interface PanelGallery { type: 'gallery'; items: GalleryItem[] }

export type HostToPanel = PanelInit | PanelStatus | PanelProgress | PanelPreview | PanelResult | PanelGallery;

// ---------------------------------------------------------------------------------------------
// Runtime validators. A webview is untrusted input from the host's point of view (it renders a
// workspace file); the host checks every message before acting on it.

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isStr = (x: unknown): x is string => typeof x === 'string';
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isOptStr = (x: unknown) => x === undefined || isStr(x);
const isOptNum = (x: unknown) => x === undefined || isNum(x);
const isStrArray = (x: unknown): x is string[] => Array.isArray(x) && x.every(isStr);
const oneOf = <T extends string>(list: readonly T[], x: unknown): x is T => isStr(x) && (list as readonly string[]).includes(x);

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export function isGraphMessage(x: unknown): x is GraphToHost {
  if (!isObj(x)) return false;
  switch (x.type) {
    case 'ready': return isNum(x.version);
    case 'edit': return isObj(x.workflow) && Array.isArray(x.workflow.nodes) && isOptStr(x.label);
    case 'run': case 'interrupt': case 'reopenAsText': case 'convertToWorkflow': return true;
    case 'log': return oneOf(LOG_LEVELS, x.level) && isStr(x.message);
    case 'upload': return isStr(x.node) && x.node.length > 0 && isStr(x.widget) && x.widget.length > 0;
    case 'promptDraft': return isStr(x.node) && x.node.length > 0 && isStr(x.text);
    default: return false;
  }
}

/** Why `validateGenerateParams` rejected a message, or null when it is valid. */
export function generateParamsProblem(x: Obj): string | null {
  for (const k of ['prompt', 'negative', 'model', 'sampler', 'scheduler'] as const) {
    if (!isStr(x[k])) return `generate: '${k}' must be a string`;
  }
  const ints: [keyof GenerateParams, number, number][] = [
    ['width', 64, 16384], ['height', 64, 16384], ['steps', 1, 10000], ['batch', 1, 4096],
    ['seed', 0, Number.MAX_SAFE_INTEGER],
  ];
  for (const [k, min, max] of ints) {
    const v = x[k];
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      return `generate: '${k}' must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`;
    }
  }
  if (!isNum(x.cfg) || x.cfg < 0 || x.cfg > 100) return `generate: 'cfg' must be a number in [0, 100], got ${JSON.stringify(x.cfg)}`;
  if (!oneOf(SEED_MODES, x.seedMode)) return `generate: 'seedMode' must be one of ${SEED_MODES.join('/')}, got ${JSON.stringify(x.seedMode)}`;
  return null;
}

export function isPanelMessage(x: unknown): x is PanelToHost {
  if (!isObj(x)) return false;
  switch (x.type) {
    case 'ready': return isNum(x.version);
    case 'generate': return generateParamsProblem(x) === null;
    case 'interrupt': return true;
    case 'galleryAction': return oneOf(GALLERY_ACTIONS, x.action) && isStr(x.path) && x.path.length > 0;
    default: return false;
  }
}

const isImage = (x: unknown) => isObj(x) && isStr(x.uri) && isStr(x.filename);
const isGalleryItem = (x: unknown) => isObj(x) && isStr(x.path) && isStr(x.uri) && isStr(x.filename);

/** Webview-side check of host messages (window 'message' events can come from anywhere). */
export function isHostToGraph(x: unknown): x is HostToGraph {
  if (!isObj(x)) return false;
  switch (x.type) {
    case 'init': return isNum(x.version) && isStr(x.text) && isObj(x.objectInfo);
    case 'update': return isStr(x.text);
    case 'parseError': return isStr(x.message) && isOptNum(x.line) && isOptNum(x.column);
    case 'status': return oneOf(RUN_STATES, x.state) && isOptStr(x.message);
    case 'executing': return x.node === null || isStr(x.node);
    case 'progress': return isStr(x.node) && isNum(x.value) && isNum(x.max);
    case 'preview': return isStr(x.node) && isStr(x.dataUrl);
    case 'executed': return isStr(x.node) && Array.isArray(x.images) && x.images.every(isImage);
    case 'error': return isStr(x.message) && isOptStr(x.node) && (x.nodeErrors === undefined || isObj(x.nodeErrors));
    case 'tokenCounts': return (x.merge === undefined || typeof x.merge === 'boolean') && isObj(x.counts) && Object.values(x.counts).every((c) => isObj(c) && isNum(c.tokens) && isNum(c.chunks));
    case 'comboValues': return isStr(x.classType) && isStr(x.input) && isStrArray(x.values);
    case 'controlledValues': return Array.isArray(x.values) && x.values.every((v) => isObj(v) && isStr(v.node) && isStr(v.widget) && isNum(v.value));
    default: return false;
  }
}

export function isHostToPanel(x: unknown): x is HostToPanel {
  if (!isObj(x)) return false;
  switch (x.type) {
    case 'init':
      return isNum(x.version) && isStrArray(x.models) && isStrArray(x.samplers) && isStrArray(x.schedulers)
        && isObj(x.defaults) && Array.isArray(x.gallery) && x.gallery.every(isGalleryItem);
    case 'status': return oneOf(RUN_STATES, x.state) && isOptStr(x.message);
    case 'progress': return isNum(x.value) && isNum(x.max) && isOptStr(x.node);
    case 'preview': return isStr(x.dataUrl);
    case 'result': return Array.isArray(x.images) && x.images.every(isGalleryItem) && isOptNum(x.nextSeed);
    case 'gallery': return Array.isArray(x.items) && x.items.every(isGalleryItem);
    default: return false;
  }
}
