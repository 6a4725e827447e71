// ComfyUI's HTTP routes (server.py) over Marble's engine. Each handler returns the JSON body
// (`{}` where ComfyUI answers an empty 200) or writes the response itself (/view).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as os from 'node:os';
import { BackendRequestError } from '../inference/client/backendClient';
import { listModelFiles } from '../inference/host/objectInfo';
import { MODEL_FOLDERS, type FeatureFlags, type PromptAccepted, type QueueItem, type SystemStats } from '../protocol/comfyApi';
import { isPlainObject } from '../protocol/inference';
import type { ApiPrompt } from '../workflow/types';
import type { Engine } from './engine';
import { HttpError, readJsonObject } from './http';
import type { ServerPromptQueue } from './promptQueue';
import type { PromptRunner } from './promptRunner';
import { handleUpload } from './uploads';
import { serveView, type Folders } from './view';

export interface RouteContext {
  queue: ServerPromptQueue;
  runner: PromptRunner;
  engine: Engine;
  folders: Folders;
  modelsRoots: string[];
  maxJsonBytes: number;
  maxUploadBytes: number;
  version: string;
  argv: string[];
  /** ComfyUI's `server.number`: the next default priority. */
  counter: { next: number };
}

type Handler = (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, params: string[], query: URLSearchParams) => Promise<unknown>;

function invalidPrompt(message: string, details: string): HttpError {
  return new HttpError(400, message, { error: { type: 'invalid_prompt', message, details, extra_info: {} }, node_errors: {} });
}

/** The checks ComfyUI makes before validating inputs: every node an object with a class_type. */
function checkPromptShape(prompt: unknown): asserts prompt is ApiPrompt {
  if (!isPlainObject(prompt)) throw invalidPrompt('Cannot execute because the prompt is not an object of nodes.', `got ${Array.isArray(prompt) ? 'an array' : typeof prompt}`);
  for (const [id, node] of Object.entries(prompt)) {
    if (!isPlainObject(node) || typeof node.class_type !== 'string') {
      throw invalidPrompt('Cannot execute because a node is missing the class_type property.', `Node ID '#${id}'`);
    }
    if (node.inputs === undefined) node.inputs = {};
    if (!isPlainObject(node.inputs)) throw invalidPrompt('Cannot execute because a node has malformed inputs.', `Node ID '#${id}': inputs must be an object`);
  }
}

async function postPrompt(ctx: RouteContext, req: IncomingMessage): Promise<PromptAccepted> {
  const body = await readJsonObject(req, ctx.maxJsonBytes);
  let number: number;
  if ('number' in body) {
    number = Number(body.number);
    if (!Number.isFinite(number)) throw new HttpError(400, `number must be a finite number, got ${JSON.stringify(body.number)}`);
  } else {
    number = ctx.counter.next;
    if (body.front === true) number = -number;
    ctx.counter.next++;
  }
  if (!('prompt' in body)) {
    throw new HttpError(400, 'no prompt', { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} });
  }
  const prompt = body.prompt;
  checkPromptShape(prompt);
  let promptId: string = randomUUID();
  if (body.prompt_id !== undefined) {
    if (typeof body.prompt_id !== 'string' || !/^[\w.:-]{1,128}$/.test(body.prompt_id)) {
      throw invalidPrompt('prompt_id must be 1-128 letters, digits or . _ : -', JSON.stringify(body.prompt_id));
    }
    if (ctx.queue.has(body.prompt_id)) throw invalidPrompt(`prompt_id '${body.prompt_id}' is already queued`, body.prompt_id);
    promptId = body.prompt_id;
  }
  const extraData: Record<string, unknown> = isPlainObject(body.extra_data) ? { ...body.extra_data } : {};
  if (typeof body.client_id === 'string') extraData.client_id = body.client_id;
  let validation;
  try {
    validation = await ctx.engine.validate(prompt);
  } catch (e) {
    if (e instanceof BackendRequestError && e.rejection) throw new HttpError(400, e.message, e.rejection);
    if (e instanceof BackendRequestError) throw invalidPrompt(e.message, '');
    throw e;
  }
  const item: QueueItem = [number, promptId, prompt, extraData, validation.outputs];
  ctx.queue.put(item);
  return { prompt_id: promptId, number, node_errors: validation.node_errors };
}

function idList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || !/^-?\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

async function modelNames(ctx: RouteContext, folder: string): Promise<string[]> {
  return listModelFiles(folder, ctx.modelsRoots);
}

function systemStats(ctx: RouteContext): SystemStats {
  return {
    system: {
      os: process.platform === 'win32' ? 'nt' : 'posix',
      ram_total: os.totalmem(),
      ram_free: os.freemem(),
      // Clients read this as ComfyUI's version; say plainly what answers.
      comfyui_version: `marble-${ctx.version}`,
      python_version: `node ${process.version}`,
      pytorch_version: 'onnxruntime-node',
      embedded_python: false,
      argv: ctx.argv,
    },
    devices: [{ name: 'onnxruntime', type: 'cpu', index: 0, vram_total: 0, vram_free: 0, torch_vram_total: 0, torch_vram_free: 0 }],
  };
}

export function featureFlags(ctx: { maxUploadBytes: number }): FeatureFlags {
  return { supports_preview_metadata: true, max_upload_size: ctx.maxUploadBytes };
}

const GET: [RegExp, Handler][] = [
  [/^\/prompt$/, async (ctx) => ({ exec_info: { queue_remaining: ctx.queue.remaining } })],
  [/^\/queue$/, async (ctx) => {
    const q = ctx.queue.current();
    return { queue_running: q.running, queue_pending: q.pending };
  }],
  [/^\/history$/, async (ctx, _req, _res, _p, query) => ctx.queue.getHistory({ maxItems: intParam(query, 'max_items'), offset: intParam(query, 'offset') })],
  [/^\/history\/([^/]+)$/, async (ctx, _req, _res, [id]) => ctx.queue.getHistory({ promptId: id })],
  [/^\/view$/, async (ctx, _req, res, _p, query) => { await serveView(query, ctx.folders, res); return undefined; }],
  [/^\/object_info$/, async (ctx) => ctx.engine.objectInfo()],
  [/^\/object_info\/([^/]+)$/, async (ctx, _req, _res, [name]) => {
    const info = await ctx.engine.objectInfo();
    return Object.prototype.hasOwnProperty.call(info, name) ? { [name]: info[name] } : {};
  }],
  [/^\/system_stats$/, async (ctx) => systemStats(ctx)],
  [/^\/embeddings$/, async (ctx) => (await modelNames(ctx, 'embeddings')).map((n) => n.replace(/\.[^./]+$/, ''))],
  [/^\/extensions$/, async () => []],
  [/^\/models$/, async () => MODEL_FOLDERS],
  [/^\/models\/([^/]+)$/, async (ctx, _req, _res, [folder]) => {
    if (!MODEL_FOLDERS.includes(folder)) throw new HttpError(404, `unknown model folder '${folder}' (known: ${MODEL_FOLDERS.join(', ')})`);
    return modelNames(ctx, folder);
  }],
  [/^\/features$/, async (ctx) => featureFlags(ctx)],
  [/^\/$/, async (ctx) => ({ name: 'Marble', api: 'ComfyUI', version: ctx.version, note: 'This server has no web frontend; use a ComfyUI client or the Marble VS Code extension.' })],
];

const POST: [RegExp, Handler][] = [
  [/^\/prompt$/, async (ctx, req) => postPrompt(ctx, req)],
  [/^\/queue$/, async (ctx, req) => {
    const body = await readJsonObject(req, ctx.maxJsonBytes);
    if (body.clear === true) ctx.queue.wipe();
    if ('delete' in body) ctx.queue.delete(idList(body.delete));
    return {};
  }],
  [/^\/history$/, async (ctx, req) => {
    const body = await readJsonObject(req, ctx.maxJsonBytes);
    if (body.clear === true) ctx.queue.wipeHistory();
    if ('delete' in body) ctx.queue.deleteHistory(idList(body.delete));
    return {};
  }],
  [/^\/interrupt$/, async (ctx, req) => {
    const body = await readJsonObject(req, ctx.maxJsonBytes);
    await ctx.runner.interrupt(typeof body.prompt_id === 'string' ? body.prompt_id : undefined);
    return {};
  }],
  [/^\/free$/, async (ctx, req) => {
    const body = await readJsonObject(req, ctx.maxJsonBytes);
    const unloadModels = body.unload_models === true;
    const freeMemory = body.free_memory === true;
    if (unloadModels || freeMemory) await ctx.engine.free({ unloadModels: unloadModels || freeMemory, freeMemory });
    return {};
  }],
  [/^\/upload\/image$/, async (ctx, req) => handleUpload(req, 'image', ctx.folders, ctx.maxUploadBytes)],
  [/^\/upload\/mask$/, async (ctx, req) => handleUpload(req, 'mask', ctx.folders, ctx.maxUploadBytes)],
];

/** Finds the handler for a method and path (the `/api` prefix already removed). */
export function matchRoute(method: string, pathname: string): { handler: Handler; params: string[] } | 'method' | undefined {
  const table = method === 'GET' || method === 'HEAD' ? GET : method === 'POST' ? POST : undefined;
  for (const [re, handler] of table ?? []) {
    const m = re.exec(pathname);
    if (m) return { handler, params: m.slice(1).map((p) => decodeURIComponent(p)) };
  }
  const other = table === GET ? POST : GET;
  if (other.some(([re]) => re.test(pathname))) return 'method';
  return undefined;
}
