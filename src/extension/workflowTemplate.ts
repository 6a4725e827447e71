// Fills a text-to-image UI workflow (ComfyUI's default graph or the user's `marble.defaultWorkflow`)
// with the values of one Generate request. The graph is walked from the KSampler along its links,
// not by node id, so a user's own template with other ids and extra nodes still works. Pure.
import { applyControl, normaliseControlMode, SEED_RANGE, type ControlMode } from './seedControl';

/** The values a Generate request may set; anything left out keeps the template's value. */
export interface GenerationValues {
  prompt: string;
  negative?: string;
  checkpoint?: string;
  width?: number;
  height?: number;
  batchSize?: number;
  steps?: number;
  cfg?: number;
  sampler?: string;
  scheduler?: string;
  denoise?: number;
  /** An explicit seed (used as is). Without it the template's control mode picks one. */
  seed?: number;
}

interface UiNode {
  id: number | string;
  type: string;
  mode?: number;
  inputs?: { name: string; link: number | null }[];
  widgets_values?: unknown[] | Record<string, unknown>;
  [k: string]: unknown;
}
interface UiWorkflowLike {
  nodes: UiNode[];
  links: unknown[];
  [k: string]: unknown;
}

/** What was filled in, so the caller can record the seed actually used. */
export interface FilledTemplate {
  workflow: UiWorkflowLike;
  seed: number;
  seedMode: ControlMode;
  samplerNodeId: string;
}

const SAMPLERS = new Set(['KSampler']);

function asWorkflow(value: unknown): UiWorkflowLike {
  const w = value as UiWorkflowLike;
  if (!w || typeof w !== 'object' || !Array.isArray(w.nodes) || !Array.isArray(w.links)) {
    throw new Error('Template workflow: expected a ComfyUI UI workflow with "nodes" and "links" arrays');
  }
  return w;
}

/** Link id → origin node id, for both the array (v0.4) and object (v1) link shapes. */
function linkOrigins(w: UiWorkflowLike): Map<number, string> {
  const map = new Map<number, string>();
  for (const l of w.links) {
    if (Array.isArray(l)) map.set(Number(l[0]), String(l[1]));
    else if (l && typeof l === 'object' && 'id' in l && 'origin_id' in l) {
      const o = l as { id: number; origin_id: number | string };
      map.set(Number(o.id), String(o.origin_id));
    }
  }
  return map;
}

function upstream(w: UiWorkflowLike, origins: Map<number, string>, node: UiNode, input: string): UiNode | undefined {
  const link = node.inputs?.find((i) => i.name === input)?.link;
  if (link === null || link === undefined) return undefined;
  const from = origins.get(Number(link));
  return w.nodes.find((n) => String(n.id) === from);
}

function widgets(node: UiNode, count: number, what: string): unknown[] {
  const v = node.widgets_values;
  if (!Array.isArray(v) || v.length < count) {
    throw new Error(`Template workflow: ${what} (node ${node.id}, ${node.type}) needs ${count} widget values, has ${Array.isArray(v) ? v.length : 'none'}`);
  }
  return v;
}

function checkNumber(name: string, v: number | undefined, min: number, max: number, integer: boolean): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new Error(`Generate: ${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${v}`);
  }
}

/**
 * Returns a deep copy of `template` with `values` applied. `lastSeed` is the seed of the previous
 * run of this template (increment/decrement continue from it); `random` is injectable for tests.
 */
export function fillTemplate(
  template: unknown, values: GenerationValues, lastSeed?: number, random: () => number = Math.random,
): FilledTemplate {
  if (typeof values.prompt !== 'string' || values.prompt.trim() === '') {
    throw new Error('Generate: the prompt is empty');
  }
  checkNumber('width', values.width, 16, 16384, true);
  checkNumber('height', values.height, 16, 16384, true);
  checkNumber('batch size', values.batchSize, 1, 4096, true);
  checkNumber('steps', values.steps, 1, 10000, true);
  checkNumber('cfg', values.cfg, 0, 100, false);
  checkNumber('denoise', values.denoise, 0, 1, false);
  checkNumber('seed', values.seed, 0, Number.MAX_SAFE_INTEGER, true);

  const w = asWorkflow(structuredClone(template));
  const sampler = w.nodes.find((n) => SAMPLERS.has(n.type) && (n.mode ?? 0) === 0);
  if (!sampler) throw new Error('Template workflow: no active KSampler node to fill');
  const origins = linkOrigins(w);
  const sw = widgets(sampler, 7, 'KSampler');

  const positive = upstream(w, origins, sampler, 'positive');
  if (!positive || positive.type !== 'CLIPTextEncode') {
    throw new Error(`Template workflow: KSampler ${sampler.id}'s "positive" input must come from a CLIPTextEncode node`);
  }
  widgets(positive, 1, 'positive prompt')[0] = values.prompt;

  if (values.negative !== undefined) {
    const negative = upstream(w, origins, sampler, 'negative');
    if (!negative || negative.type !== 'CLIPTextEncode') {
      throw new Error(`Template workflow: KSampler ${sampler.id}'s "negative" input must come from a CLIPTextEncode node`);
    }
    widgets(negative, 1, 'negative prompt')[0] = values.negative;
  }

  if (values.width !== undefined || values.height !== undefined || values.batchSize !== undefined) {
    const latent = upstream(w, origins, sampler, 'latent_image');
    if (!latent || latent.type !== 'EmptyLatentImage') {
      throw new Error(`Template workflow: KSampler ${sampler.id}'s "latent_image" must come from EmptyLatentImage to set the size`);
    }
    const lw = widgets(latent, 3, 'EmptyLatentImage');
    if (values.width !== undefined) lw[0] = values.width;
    if (values.height !== undefined) lw[1] = values.height;
    if (values.batchSize !== undefined) lw[2] = values.batchSize;
  }

  if (values.checkpoint !== undefined) {
    const loader = upstream(w, origins, sampler, 'model');
    if (!loader || loader.type !== 'CheckpointLoaderSimple') {
      throw new Error(`Template workflow: KSampler ${sampler.id}'s "model" must come from CheckpointLoaderSimple to set the checkpoint`);
    }
    widgets(loader, 1, 'CheckpointLoaderSimple')[0] = values.checkpoint;
  }

  // KSampler widgets: seed, control_after_generate, steps, cfg, sampler_name, scheduler, denoise.
  const seedMode = normaliseControlMode(sw[1]);
  let seed: number;
  if (values.seed !== undefined) seed = values.seed;
  else {
    const base = typeof sw[0] === 'number' ? sw[0] : 0;
    // A fresh copy of the template is filled each time, so "randomize" must pick before the run
    // (else every run would reuse the template's seed); increment/decrement continue from the last run.
    seed = seedMode === 'fixed' ? base : applyControl(seedMode, lastSeed ?? base, SEED_RANGE, random);
  }
  sw[0] = seed;
  sw[1] = values.seed !== undefined ? 'fixed' : seedMode;
  if (values.steps !== undefined) sw[2] = values.steps;
  if (values.cfg !== undefined) sw[3] = values.cfg;
  if (values.sampler !== undefined) sw[4] = values.sampler;
  if (values.scheduler !== undefined) sw[5] = values.scheduler;
  if (values.denoise !== undefined) sw[6] = values.denoise;

  return { workflow: w, seed, seedMode: values.seed !== undefined ? 'fixed' : seedMode, samplerNodeId: String(sampler.id) };
}

/**
 * When the template names a checkpoint the backend does not have (ComfyUI's default graph names
 * SD 1.5) and the user did not choose one, the first available checkpoint is the useful answer.
 * Returns the checkpoint to use, or undefined to keep the template's.
 */
export function substituteCheckpoint(template: unknown, available: readonly string[]): string | undefined {
  const w = asWorkflow(template);
  const loader = w.nodes.find((n) => n.type === 'CheckpointLoaderSimple' && (n.mode ?? 0) === 0);
  const current = Array.isArray(loader?.widgets_values) ? loader.widgets_values[0] : undefined;
  if (!loader || available.length === 0) return undefined;
  return typeof current === 'string' && available.includes(current) ? undefined : available[0];
}
