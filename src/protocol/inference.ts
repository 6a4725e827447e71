// The one protocol between a parent (the VS Code extension, the CLI) and the inference child.
//
// Transport: Node's `child_process.fork` IPC channel with `serialization: 'advanced'`. Advanced
// serialization is V8's structured clone (what `postMessage` uses) instead of JSON: NaN/Infinity,
// `undefined`, typed arrays and large messages survive without a JSON round trip, and it is safe
// here because both ends always run the same Node binary (the CLI forks `process.execPath`; the
// extension forks VS Code's own Electron Node with ELECTRON_RUN_AS_NODE=1). Preview images still
// travel as base64 strings because the parent forwards them as-is to webviews and `--json` lines.
//
// Shape: every message carries an envelope `{id}`; replies add `inReplyTo` (the request's id) and
// `ok: true, result` or `ok: false, error`. The child speaks first with `hello`; a parent refuses
// a child whose PROTOCOL_VERSION differs (a stale dist/inference.js after an update).
import type { ExecutionEvent } from '../workflow/events';
import type { ObjectInfo } from '../workflow/objectInfo';
import type { ApiPrompt } from '../workflow/types';

export const PROTOCOL_VERSION = 1;

export interface Envelope {
  id: number;
  inReplyTo?: number;
}

/** An API-format prompt (`{nodeId: {class_type, inputs, _meta?}}`), validated by the child. */
export type ApiPromptMessage = ApiPrompt;

/** Paths and engine settings the child needs; sent with `configure` (also the node RuntimeConfig). */
export interface ConfigureParams {
  modelsRoots: string[];
  outputDir: string;
  inputDir: string;
  tempDir: string;
  /** Execution provider preference: 'auto', 'cpu', 'cuda', 'webgpu', … */
  ep: string;
  memoryBudgetMB: number;
  previews: boolean;
  /**
   * Where `.safetensors` models converted to ONNX are cached (the extension's global storage,
   * `marble.conversionCacheFolder`, the CLI's --cache). Absent: the platform's user cache folder.
   */
  conversionCacheDir?: string;
}

// ---- parent → child requests -------------------------------------------------------------

export interface QueueRequest {
  type: 'queue';
  prompt: ApiPromptMessage;
  extraData?: Record<string, unknown>;
  promptId?: string;
  clientId?: string;
  front?: boolean;
  /** Explicit ComfyUI priority (lower runs first); overrides the counter and `front`. */
  number?: number;
}
export interface InterruptRequest { type: 'interrupt'; promptId?: string }
export interface QueueStatusRequest { type: 'queueStatus' }
export interface DeleteQueuedRequest { type: 'deleteQueued'; ids: string[] }
export interface ObjectInfoRequest { type: 'objectInfo' }
export interface FreeRequest { type: 'free'; unloadModels: boolean; freeMemory?: boolean }
export interface ConfigureRequest extends ConfigureParams { type: 'configure' }
export interface ShutdownRequest { type: 'shutdown' }

export type ParentRequest =
  | QueueRequest
  | InterruptRequest
  | QueueStatusRequest
  | DeleteQueuedRequest
  | ObjectInfoRequest
  | FreeRequest
  | ConfigureRequest
  | ShutdownRequest;

export type ParentMessage = Envelope & ParentRequest;

// ---- results --------------------------------------------------------------------------

/** ComfyUI's per-node validation reasons (`node_errors[id]`), as produced by the validator. */
export interface NodeErrorReport {
  errors: { type: string; message: string; details: string; extra_info: Record<string, unknown> }[];
  dependent_outputs: string[];
  class_type: string;
}

export interface QueueResult {
  prompt_id: string;
  number: number;
  node_errors: Record<string, NodeErrorReport>;
}

/** The body ComfyUI answers POST /prompt with on 400; sent as `error.details` of a failed `queue`. */
export interface PromptRejection {
  error: { type: string; message: string; details: string; extra_info: Record<string, unknown> };
  node_errors: Record<string, NodeErrorReport>;
}

export interface QueueItemInfo {
  prompt_id: string;
  number: number;
  client_id?: string;
}

export interface QueueStatusResult {
  running: QueueItemInfo[];
  pending: QueueItemInfo[];
}

export interface ResultMap {
  queue: QueueResult;
  interrupt: { interrupted: boolean };
  queueStatus: QueueStatusResult;
  deleteQueued: { deleted: string[] };
  objectInfo: ObjectInfo;
  free: { freed: boolean };
  configure: { applied: true };
  shutdown: { stopping: true };
}

export interface ReplyError {
  message: string;
  nodeId?: string;
  details?: unknown;
}

// ---- child → parent ---------------------------------------------------------------------

export interface EpCapability {
  name: string;
  bundled: boolean;
}

export interface HelloMessage {
  type: 'hello';
  version: number;
  pid: number;
  eps: EpCapability[];
}

export type ReplyMessage =
  | { type: 'reply'; inReplyTo: number; ok: true; result: unknown }
  | { type: 'reply'; inReplyTo: number; ok: false; error: ReplyError };

export interface StatusEvent { type: 'status'; data: { status: { exec_info: { queue_remaining: number } } } }
export interface PreviewEvent {
  type: 'preview';
  data: { prompt_id: string; node: string; format: 'jpeg' | 'png'; data: string };
}
export interface LogEvent { type: 'log'; data: { level: 'debug' | 'info' | 'warn' | 'error'; message: string } }
/** Which execution provider actually ran a model (a CUDA request may fall back to CPU). */
export interface EpEvent { type: 'ep'; data: { model: string; provider: string } }
/**
 * A `.safetensors` model being converted to ONNX on its first load (the loader node also sends
 * ComfyUI `progress` events). `value` is 0..1; 'waiting' while another process converts the file.
 */
export interface ConversionEvent {
  type: 'conversion';
  data: { prompt_id?: string; node?: string; name: string; file: string; state: 'converting' | 'waiting' | 'done' | 'failed'; value: number; message?: string };
}

export type BackendEvent = ExecutionEvent | StatusEvent | PreviewEvent | LogEvent | EpEvent | ConversionEvent;

export interface EventMessage { type: 'event'; event: BackendEvent }

export type ChildBody = HelloMessage | ReplyMessage | EventMessage;
export type ChildMessage = Envelope & ChildBody;

// ---- runtime checks ----------------------------------------------------------------------
// Messages cross a process boundary, so the receiver checks shapes instead of trusting types.

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

type Check = (v: unknown) => boolean;
const isString: Check = (v) => typeof v === 'string';
const isBool: Check = (v) => typeof v === 'boolean';
const isFiniteNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
const isStringArray: Check = (v) => Array.isArray(v) && v.every(isString);

interface FieldSpec { [field: string]: [Check, boolean /* required */, string /* expectation */] }

const REQUEST_FIELDS: Record<ParentRequest['type'], FieldSpec> = {
  queue: {
    prompt: [isPlainObject, true, 'an object of nodes'],
    extraData: [isPlainObject, false, 'an object'],
    promptId: [isString, false, 'a string'],
    clientId: [isString, false, 'a string'],
    front: [isBool, false, 'a boolean'],
    number: [isFiniteNumber, false, 'a finite number'],
  },
  interrupt: { promptId: [isString, false, 'a string'] },
  queueStatus: {},
  deleteQueued: { ids: [isStringArray, true, 'an array of prompt ids'] },
  objectInfo: {},
  free: { unloadModels: [isBool, true, 'a boolean'], freeMemory: [isBool, false, 'a boolean'] },
  configure: {
    modelsRoots: [isStringArray, true, 'an array of folder paths'],
    outputDir: [isString, true, 'a folder path'],
    inputDir: [isString, true, 'a folder path'],
    tempDir: [isString, true, 'a folder path'],
    ep: [isString, true, 'an execution provider name'],
    memoryBudgetMB: [(v) => isFiniteNumber(v) && (v as number) >= 0, true, 'a number ≥ 0'],
    previews: [isBool, true, 'a boolean'],
    conversionCacheDir: [isString, false, 'a folder path'],
  },
  shutdown: {},
};

function checkFields(what: string, msg: Record<string, unknown>, spec: FieldSpec): void {
  for (const [field, [check, required, expected]] of Object.entries(spec)) {
    const value = msg[field];
    if (value === undefined) {
      if (required) throw new ProtocolError(`${what}: missing field '${field}' (expected ${expected})`);
    } else if (!check(value)) {
      throw new ProtocolError(`${what}: field '${field}' must be ${expected}, got ${describe(value)}`);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

function checkId(msg: Record<string, unknown>, what: string): void {
  if (!Number.isSafeInteger(msg.id)) throw new ProtocolError(`${what}: 'id' must be an integer, got ${describe(msg.id)}`);
}

/** Checks a message received by the child; throws ProtocolError saying what is wrong. */
export function parseParentMessage(raw: unknown): ParentMessage {
  if (!isPlainObject(raw)) throw new ProtocolError(`message must be an object, got ${describe(raw)}`);
  checkId(raw, 'message');
  const type = raw.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(REQUEST_FIELDS, type)) {
    throw new ProtocolError(
      `unknown request type ${JSON.stringify(type)} (expected one of ${Object.keys(REQUEST_FIELDS).join(', ')})`,
    );
  }
  checkFields(`'${type}' request`, raw, REQUEST_FIELDS[type as ParentRequest['type']]);
  if (type === 'queue') {
    for (const [nodeId, node] of Object.entries(raw.prompt as Record<string, unknown>)) {
      if (!isPlainObject(node) || typeof node.class_type !== 'string' || !isPlainObject(node.inputs)) {
        throw new ProtocolError(`'queue' request: prompt node '${nodeId}' must be {class_type: string, inputs: object}`);
      }
    }
  }
  return raw as unknown as ParentMessage;
}

/** Checks a message received by the parent; throws ProtocolError saying what is wrong. */
export function parseChildMessage(raw: unknown): ChildMessage {
  if (!isPlainObject(raw)) throw new ProtocolError(`child message must be an object, got ${describe(raw)}`);
  checkId(raw, 'child message');
  switch (raw.type) {
    case 'hello':
      checkFields('hello', raw, {
        version: [isFiniteNumber, true, 'a number'],
        pid: [isFiniteNumber, true, 'a number'],
        eps: [Array.isArray, true, 'an array'],
      });
      break;
    case 'reply':
      if (!Number.isSafeInteger(raw.inReplyTo)) throw new ProtocolError(`reply: 'inReplyTo' must be an integer`);
      if (raw.ok === false) {
        if (!isPlainObject(raw.error) || typeof raw.error.message !== 'string') {
          throw new ProtocolError(`reply: a failed reply needs error.message`);
        }
      } else if (raw.ok !== true) {
        throw new ProtocolError(`reply: 'ok' must be a boolean`);
      }
      break;
    case 'event':
      if (!isPlainObject(raw.event) || typeof raw.event.type !== 'string' || !isPlainObject(raw.event.data)) {
        throw new ProtocolError(`event: must carry event {type: string, data: object}`);
      }
      break;
    default:
      throw new ProtocolError(`unknown child message type ${JSON.stringify(raw.type)}`);
  }
  return raw as unknown as ChildMessage;
}
