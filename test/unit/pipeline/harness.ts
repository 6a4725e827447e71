// In-process pipeline harness: the real node registry, ModelServices (ORT sessions) and Executor
// on generated tiny models, validated the way the inference host validates (folder combos filled
// from the configured folders). No child process, so a test can watch sessions and node values.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { buildObjectInfo } from '../../../src/inference/host/objectInfo';
import { ComponentSession } from '../../../src/inference/models';
import { ModelServices, type EpReport } from '../../../src/inference/nodes/modelServices';
import { createNodeRegistry } from '../../../src/inference/nodes/registry';
import { defaultRuntimeConfig, type RuntimeConfig } from '../../../src/inference/nodes/runtimeConfig';
import type { ExecutionEvent } from '../../../src/workflow/events';
import { Executor, type ExecutionOutcome } from '../../../src/workflow/executor';
import type { NodeDefinition, NodeRegistry, PreviewImage } from '../../../src/workflow/nodeDefinition';
import type { InputSpec, ObjectInfo } from '../../../src/workflow/objectInfo';
import type { ApiPrompt, UiWorkflow } from '../../../src/workflow/types';
import { uiToApi } from '../../../src/workflow/uiToApi';
import { validatePrompt, type ValidationResult } from '../../../src/workflow/validate';
import { generateModelFolder } from '../../../tools/modelgen/writeModelFolder';

// __dirname is the harness folder under mocha (CJS); scripts importing it as ESM fall back to the cwd.
export const repoRoot = [path.resolve(__dirname, '../../..'), process.cwd()].find((d) => fs.existsSync(path.join(d, 'resources/workflows'))) ?? process.cwd();
export const DEFAULT_CKPT = 'v1-5-pruned-emaonly-fp16';

/** A temp folder laid out like ComfyUI's (models/, input/, output/, temp/). */
export function makeWorkspace(prefix = 'marble-pipeline-'): { base: string; remove(): void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const d of ['models/checkpoints', 'input', 'output', 'temp']) fs.mkdirSync(path.join(base, d), { recursive: true });
  return { base, remove: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** Generates a tiny model as `models/checkpoints/<name>` (ms on the tiny size). */
export function addModel(base: string, name: string, variant: string, seed = 1): string {
  const dir = path.join(base, 'models', 'checkpoints', name);
  if (!fs.existsSync(dir)) generateModelFolder(dir, { size: 'tiny', variant, seed });
  return dir;
}

export function defaultWorkflow(): UiWorkflow {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, 'resources/workflows/default.workflow.json'), 'utf8')) as UiWorkflow;
}

export interface RunOptions {
  signal?: AbortSignal;
  extraPngInfo?: Record<string, unknown>;
  /** Called on every event, before the run resolves (e.g. to abort at the second step). */
  onEvent?: (e: ExecutionEvent) => void;
}

export interface RunResult {
  outcome: ExecutionOutcome;
  events: ExecutionEvent[];
  previews: { nodeId: string; preview: PreviewImage }[];
  validation: ValidationResult;
  /** What nodes logged (ctx.log), in order. */
  logs: { nodeId: string; message: string }[];
}

export interface ComponentWatch {
  /** ComponentSession.run calls per component ('unet', 'text_encoder', …). */
  runs: Record<string, number>;
  /** Shapes of the U-Net's `sample` feed, one per call. */
  unetSampleShapes: number[][];
  /** The U-Net's `sample` feed data, one per call (to look at inpainting channels). */
  unetSamples: Float32Array[];
}

/** Watches ComponentSession.run (prototype patch, restored afterwards) while `fn` runs. */
export async function watchComponents<T>(fn: () => Promise<T>): Promise<ComponentWatch & { result: T }> {
  const proto = ComponentSession.prototype;
  const original = proto.run;
  const watch: ComponentWatch = { runs: {}, unetSampleShapes: [], unetSamples: [] };
  proto.run = function (this: ComponentSession, ...args: Parameters<typeof original>) {
    watch.runs[this.component] = (watch.runs[this.component] ?? 0) + 1;
    const sample = args[0].sample as { data?: Float32Array; shape?: number[] } | undefined;
    if (this.component === 'unet' && sample?.shape && sample.data) {
      watch.unetSampleShapes.push([...sample.shape]);
      watch.unetSamples.push(Float32Array.from(sample.data));
    }
    return original.apply(this, args);
  };
  try {
    return { ...watch, result: await fn() };
  } finally {
    proto.run = original;
  }
}

function comboLookup(info: ObjectInfo) {
  return (classType: string, inputName: string): readonly string[] | undefined => {
    const entry = info[classType];
    const spec = (entry?.input.required?.[inputName] ?? entry?.input.optional?.[inputName]) as InputSpec | undefined;
    return spec && Array.isArray(spec[0]) && spec[1]?.x_folder ? (spec[0] as string[]) : undefined;
  };
}

/** A test-only output node `TestCapture<TYPE>` handing its input and node id to `sink`. */
export function captureNode(type: string, sink: (value: unknown, nodeId: string) => void): NodeDefinition {
  const name = `TestCapture${type}`;
  return {
    schema: {
      name, display_name: name, description: '', python_module: 'tests', category: 'tests',
      input: { required: { value: [type] } }, output: [], output_name: [], output_node: true,
    },
    run(inputs, ctx) {
      sink(inputs.value, ctx.nodeId);
      return { outputs: [], ui: { captured: [ctx.nodeId] } };
    },
  };
}

export class Pipeline {
  readonly cfg: RuntimeConfig;
  readonly eps: EpReport[] = [];
  readonly services: ModelServices;
  readonly registry: NodeRegistry;
  readonly executor: Executor;
  private runs = 0;

  constructor(readonly base: string, opts: { previews?: boolean; extraNodes?: NodeDefinition[] } = {}) {
    this.cfg = { ...defaultRuntimeConfig(base), ep: 'cpu', previews: opts.previews ?? false };
    this.services = new ModelServices(() => this.cfg, (r) => this.eps.push(r));
    const registry = new Map(createNodeRegistry(() => this.cfg, this.services));
    for (const def of opts.extraNodes ?? []) registry.set(def.schema.name, def);
    this.registry = registry;
    this.executor = new Executor(this.registry);
  }

  objectInfo(): Promise<ObjectInfo> {
    return buildObjectInfo(this.registry, this.cfg);
  }

  /** The default UI workflow converted to API, shrunk to `size`² and `steps` steps. */
  async defaultPrompt(opts: { ckpt?: string; size?: number; steps?: number } = {}): Promise<ApiPrompt> {
    const { prompt, warnings } = uiToApi(defaultWorkflow(), await this.objectInfo());
    if (warnings.length) throw new Error(`uiToApi warnings: ${warnings.join('; ')}`);
    prompt['5'].inputs.width = opts.size ?? 64;
    prompt['5'].inputs.height = opts.size ?? 64;
    prompt['3'].inputs.steps = opts.steps ?? 3;
    if (opts.ckpt) prompt['4'].inputs.ckpt_name = opts.ckpt;
    return prompt;
  }

  async validate(prompt: ApiPrompt): Promise<ValidationResult> {
    return validatePrompt(prompt, this.registry, { comboValues: comboLookup(await this.objectInfo()) });
  }

  /** Validates then executes; a rejected prompt returns with an 'error' outcome and no events. */
  async run(prompt: ApiPrompt, opts: RunOptions = {}): Promise<RunResult> {
    const validation = await this.validate(prompt);
    const events: ExecutionEvent[] = [];
    const previews: RunResult['previews'] = [];
    const logs: RunResult['logs'] = [];
    if (!validation.ok) return { outcome: { status: 'error', outputs: {}, ran: [], cached: [] }, events, previews, validation, logs };
    const outcome = await this.executor.execute({
      promptId: `p${++this.runs}`,
      prompt: validation.prompt,
      extraData: opts.extraPngInfo ? { extra_pnginfo: opts.extraPngInfo } : undefined,
      outputs: validation.outputs,
      signal: opts.signal,
      onEvent: (e) => {
        events.push(e);
        opts.onEvent?.(e);
      },
      onPreview: (nodeId, preview) => previews.push({ nodeId, preview }),
      onLog: (nodeId, message) => logs.push({ nodeId, message }),
    });
    return { outcome, events, previews, validation, logs };
  }

  /** Paths of the images an outcome's output nodes saved. */
  savedFiles(outcome: ExecutionOutcome): string[] {
    const files: string[] = [];
    for (const ui of Object.values(outcome.outputs)) {
      for (const im of (ui.images as { filename: string; subfolder: string; type: string }[] | undefined) ?? []) {
        files.push(path.join(im.type === 'temp' ? this.cfg.tempDir : this.cfg.outputDir, im.subfolder, im.filename));
      }
    }
    return files;
  }

  async dispose(): Promise<void> {
    await this.services.free();
  }
}

/** Decoded 8-bit RGB pixels of an image file. */
export async function pixelsOf(file: string): Promise<{ data: Uint8Array; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
}

/** Writes an RGB(A) PNG into the input folder from a per-pixel function. */
export async function writeInputPng(base: string, name: string, size: number, px: (x: number, y: number) => [number, number, number, number?]): Promise<string> {
  const data = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [r, g, b, a = 255] = px(x, y);
      data.set([r, g, b, a], (y * size + x) * 4);
    }
  }
  const file = path.join(base, 'input', name);
  await sharp(data, { raw: { width: size, height: size, channels: 4 } }).png().toFile(file);
  return file;
}

export function distinctValues(data: ArrayLike<number>): number {
  return new Set(Array.from(data)).size;
}

export function failure(r: RunResult): string {
  if (!r.validation.ok) return `validation failed: ${JSON.stringify({ error: r.validation.error, node_errors: r.validation.node_errors })}`;
  return r.outcome.error ? `node ${r.outcome.error.node_id} (${r.outcome.error.node_type}): ${r.outcome.error.exception_message}` : r.outcome.status;
}
