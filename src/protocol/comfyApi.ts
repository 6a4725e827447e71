// ComfyUI's HTTP + WebSocket API on the wire: the one module both sides use — `marble serve`
// (src/server) speaks it, the remote client (src/remote) reads it. Shapes follow ComfyUI's
// server.py, execution.py (PromptQueue, history) and protocol.py (binary frames).
// No Node-only APIs here: the remote client may also run in a webview.
import type { ExecutionEvent } from '../workflow/events';
import type { ApiPrompt } from '../workflow/types';
import type { NodeErrorReport, PromptRejection } from './inference';

export type { NodeErrorReport, PromptRejection };

/** Where a file lives: ComfyUI's `{filename, subfolder, type}` (executed outputs, /view, uploads). */
export type FolderType = 'output' | 'input' | 'temp';
export interface ImageRef {
  filename: string;
  subfolder: string;
  type: FolderType;
}

/** Body of POST /prompt. */
export interface PromptRequestBody {
  prompt: ApiPrompt;
  client_id?: string;
  extra_data?: Record<string, unknown>;
  number?: number;
  front?: boolean;
  prompt_id?: string;
  partial_execution_targets?: string[];
}

/** 200 answer of POST /prompt (node_errors lists outputs that were dropped; the rest run). */
export interface PromptAccepted {
  prompt_id: string;
  number: number;
  node_errors: Record<string, NodeErrorReport>;
}

/** A queue item as GET /queue and history entries show it: `[number, prompt_id, prompt, extra_data, outputs_to_execute]`. */
export type QueueItem = [number, string, ApiPrompt, Record<string, unknown>, string[]];

export interface QueueInfo {
  queue_running: QueueItem[];
  queue_pending: QueueItem[];
}

/** GET /prompt and the `status` message. */
export interface PromptInfo {
  exec_info: { queue_remaining: number };
}

export type StatusMessageName = 'execution_start' | 'execution_cached' | 'execution_success' | 'execution_error' | 'execution_interrupted';

export interface HistoryEntry {
  prompt: QueueItem;
  outputs: Record<string, Record<string, unknown>>;
  status: {
    status_str: 'success' | 'error';
    completed: boolean;
    messages: [StatusMessageName, Record<string, unknown>][];
  };
  meta: Record<string, { node_id: string; display_node: string; parent_node: string | null; real_node_id: string }>;
}

export type History = Record<string, HistoryEntry>;

/** POST /queue and POST /history bodies. */
export interface QueueEditBody {
  clear?: boolean;
  delete?: string[];
}

export interface UploadResult {
  name: string;
  subfolder: string;
  type: FolderType;
}

export interface FeatureFlags {
  supports_preview_metadata: boolean;
  max_upload_size: number;
  [flag: string]: unknown;
}

export interface SystemStats {
  system: {
    os: string;
    ram_total: number;
    ram_free: number;
    comfyui_version: string;
    python_version: string;
    pytorch_version: string;
    embedded_python: boolean;
    argv: string[];
    [key: string]: unknown;
  };
  devices: {
    name: string;
    type: string;
    index: number;
    vram_total: number;
    vram_free: number;
    torch_vram_total: number;
    torch_vram_free: number;
  }[];
}

// ---- websocket text messages ------------------------------------------------------------------

export interface StatusMessage {
  type: 'status';
  data: { status: PromptInfo; sid?: string };
}
export interface FeatureFlagsMessage {
  type: 'feature_flags';
  data: Record<string, unknown>;
}

/** Every text frame `marble serve` sends: `{type, data}` as ComfyUI's `send_json`. */
export type ServerMessage = StatusMessage | FeatureFlagsMessage | ExecutionEvent;

// ---- websocket binary frames ------------------------------------------------------------------

/** protocol.py BinaryEventTypes (2 is server-internal and never sent). */
export const BinaryEventType = {
  PREVIEW_IMAGE: 1,
  TEXT: 3,
  PREVIEW_IMAGE_WITH_METADATA: 4,
} as const;

/** Image formats in a type-1 frame (server.py send_image). */
export const PreviewFormat = { jpeg: 1, png: 2 } as const;
export type PreviewFormatName = keyof typeof PreviewFormat;

export interface PreviewMetadata {
  node_id: string;
  prompt_id: string;
  display_node_id: string;
  parent_node_id: string | null;
  real_node_id: string;
  image_type: 'image/jpeg' | 'image/png';
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Type 1: BE event type, BE image format (1 JPEG, 2 PNG), image bytes. */
export function encodePreviewFrame(format: PreviewFormatName, image: Uint8Array): Uint8Array {
  return concat([u32(BinaryEventType.PREVIEW_IMAGE), u32(PreviewFormat[format]), image]);
}

/** Type 4: BE event type, BE metadata length, UTF-8 JSON metadata, image bytes. */
export function encodePreviewWithMetadataFrame(meta: PreviewMetadata, image: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(meta));
  return concat([u32(BinaryEventType.PREVIEW_IMAGE_WITH_METADATA), u32(json.length), json, image]);
}

export type DecodedBinaryFrame =
  | { type: 'preview'; format: PreviewFormatName; image: Uint8Array; metadata?: PreviewMetadata }
  | { type: 'text'; nodeId: string; text: string }
  | { type: 'unknown'; eventType: number };

/** Reads a binary frame; throws on a frame too short for its declared parts. */
export function decodeBinaryFrame(frame: Uint8Array): DecodedBinaryFrame {
  if (frame.length < 4) throw new Error(`binary frame of ${frame.length} bytes has no event type`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const event = view.getUint32(0, false);
  if (event === BinaryEventType.PREVIEW_IMAGE) {
    if (frame.length < 8) throw new Error('preview frame has no image format');
    const code = view.getUint32(4, false);
    const format = code === PreviewFormat.png ? 'png' : 'jpeg';
    return { type: 'preview', format, image: frame.subarray(8) };
  }
  if (event === BinaryEventType.PREVIEW_IMAGE_WITH_METADATA) {
    if (frame.length < 8) throw new Error('preview frame has no metadata length');
    const len = view.getUint32(4, false);
    if (8 + len > frame.length) throw new Error(`preview metadata of ${len} bytes overruns the ${frame.length}-byte frame`);
    const metadata = JSON.parse(new TextDecoder().decode(frame.subarray(8, 8 + len))) as PreviewMetadata;
    return { type: 'preview', format: metadata.image_type === 'image/png' ? 'png' : 'jpeg', image: frame.subarray(8 + len), metadata };
  }
  if (event === BinaryEventType.TEXT) {
    const len = frame.length >= 8 ? view.getUint32(4, false) : 0;
    if (8 + len > frame.length) throw new Error('text frame node id overruns the frame');
    const dec = new TextDecoder();
    return { type: 'text', nodeId: dec.decode(frame.subarray(8, 8 + len)), text: dec.decode(frame.subarray(8 + len)) };
  }
  return { type: 'unknown', eventType: event };
}

/** ComfyUI's model folder keys (folder_paths.folder_names_and_paths), as GET /models lists them. */
export const MODEL_FOLDERS: readonly string[] = [
  'checkpoints', 'configs', 'loras', 'vae', 'text_encoders', 'diffusion_models', 'clip_vision', 'style_models',
  'embeddings', 'diffusers', 'vae_approx', 'controlnet', 'gligen', 'upscale_models', 'latent_upscale_models',
  'hypernetworks', 'photomaker', 'classifiers', 'model_patches', 'audio_encoders',
];
