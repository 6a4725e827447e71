// What the tiny shapes model's images must show, checked deterministically from pixels: the
// colour in the region a caption names and the background colour. The captions come from the same
// spec.json grammar the training data used (dataset.py), so the held-out set is exactly the
// combinations training never saw.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEMO_MODEL } from '../../src/workflow/demoModel';

export interface ShapesSpec {
  imageSize: number;
  colours: Record<string, [number, number, number]>;
  shapes: string[];
  positions: Record<string, { centre: [number, number]; phrase: string }>;
  sizes: Record<string, number>;
  grammar: { shape: string; twoShapes: string; caption: string; twoToneBackground: string };
  heldOut: { triples: [string, string, string, string, string, string, string][] };
}

export interface ShapeCase {
  caption: string;
  colour: string;
  shape: string;
  position: string;
  size: string;
  background: string;
}

export const SPEC_FILE = path.resolve(__dirname, 'spec.json');

export function loadSpec(file = SPEC_FILE): ShapesSpec {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ShapesSpec;
}

const fill = (template: string, values: Record<string, string>) => template.replace(/\{([a-zA-Z]+)\}/g, (_, k: string) => values[k]);

/** dataset.caption_of for one shape on a plain background. */
export function captionOf(spec: ShapesSpec, c: Omit<ShapeCase, 'caption'>): string {
  const shapes = fill(spec.grammar.shape, { size: c.size, colour: c.colour, shape: c.shape, position: spec.positions[c.position].phrase });
  return fill(spec.grammar.caption, { shapes, background: c.background });
}

/** dataset.held_out_samples: each held-out triple at its two (position, size) settings. */
export function heldOutCases(spec: ShapesSpec): ShapeCase[] {
  const out: ShapeCase[] = [];
  for (const [colour, shape, background, p1, z1, p2, z2] of spec.heldOut.triples) {
    for (const [position, size] of [[p1, z1], [p2, z2]]) {
      const c = { colour, shape, position, size, background };
      out.push({ ...c, caption: captionOf(spec, c) });
    }
  }
  return out;
}

/** Palette name nearest (RGB distance) to a colour given in 0..255. */
export function nearestColour(spec: ShapesSpec, rgb: readonly number[]): string {
  let best = '';
  let bestD = Infinity;
  for (const [name, c] of Object.entries(spec.colours)) {
    const d = (rgb[0] - c[0]) ** 2 + (rgb[1] - c[1]) ** 2 + (rgb[2] - c[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  return best;
}

/** Most frequent palette colour among the pixels (x, y) given; ties go to the first seen. */
function dominant(spec: ShapesSpec, pixels: Iterable<[number, number]>, rgbAt: (x: number, y: number) => number[]): string {
  const counts = new Map<string, number>();
  for (const [x, y] of pixels) {
    const name = nearestColour(spec, rgbAt(x, y));
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
}

export interface AttributeResult {
  expected: string;
  got: string;
  ok: boolean;
}

export interface CaseResult {
  caption: string;
  /** dominant colour in a window at the named position (inside the shape at its size) */
  shapeColour: AttributeResult;
  /** dominant colour of the pixels well away from the shape */
  background: AttributeResult;
}

/**
 * Checks one image. `rgbAt(x, y)` gives the pixel in 0..255. The shape window is a square of
 * half-width 2 (small) or 3 (large) px at the named centre, which lies inside every shape of that
 * size; the background is every pixel farther than r + 6 px (Chebyshev) from the shape's centre.
 */
export function checkImage(spec: ShapesSpec, c: ShapeCase, rgbAt: (x: number, y: number) => number[]): CaseResult {
  const [cx, cy] = spec.positions[c.position].centre;
  const r = spec.sizes[c.size];
  const half = c.size === 'small' ? 2 : 3;
  const inside: [number, number][] = [];
  for (let y = cy - half; y <= cy + half; y++) for (let x = cx - half; x <= cx + half; x++) inside.push([x, y]);
  const away: [number, number][] = [];
  const n = spec.imageSize;
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (Math.max(Math.abs(x + 0.5 - cx), Math.abs(y + 0.5 - cy)) > r + 6) away.push([x, y]);
  const shape = dominant(spec, inside, rgbAt);
  const bg = dominant(spec, away, rgbAt);
  return {
    caption: c.caption,
    shapeColour: { expected: c.colour, got: shape, ok: shape === c.colour },
    background: { expected: c.background, got: bg, ok: bg === c.background },
  };
}

export interface Accuracy {
  shapeColour: number;
  background: number;
  /** over all attributes of all cases */
  overall: number;
}

export function accuracyOf(results: readonly CaseResult[]): Accuracy {
  const frac = (f: (r: CaseResult) => boolean) => results.filter(f).length / Math.max(1, results.length);
  const shapeColour = frac((r) => r.shapeColour.ok);
  const background = frac((r) => r.background.ok);
  return { shapeColour, background, overall: (shapeColour + background) / 2 };
}

/**
 * How the tiny model is sampled everywhere it is judged or shown (semantic test, README grid, demo,
 * first-run Generate Image): resources/models/marble-shapes-tiny.json, read through
 * src/workflow/demoModel.ts. tools/tinymodel/evaluate.py's defaults are the same values; change
 * both together so the PyTorch and Marble numbers stay comparable.
 */
export const TINY_SAMPLING = {
  seed: DEMO_MODEL.seed,
  steps: DEMO_MODEL.steps,
  cfg: DEMO_MODEL.cfg,
  sampler: DEMO_MODEL.sampler_name,
  scheduler: DEMO_MODEL.scheduler,
  size: DEMO_MODEL.width,
  negative: DEMO_MODEL.negative,
} as const;

/** The file name the model has in resources/models and in a models folder's checkpoints/. */
export const TINY_CHECKPOINT = DEMO_MODEL.checkpoint;

export type ApiPromptLike = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

export interface SamplingOptions {
  seed: number;
  steps: number;
  cfg: number;
  size: number;
}

/** ComfyUI's default workflow shape (API format) at the given size, for one prompt pair. */
export function defaultApiPrompt(ckptName: string, positive: string, negative: string, opts: SamplingOptions): ApiPromptLike {
  return {
    '3': { class_type: 'KSampler', inputs: { seed: opts.seed, steps: opts.steps, cfg: opts.cfg, sampler_name: TINY_SAMPLING.sampler, scheduler: TINY_SAMPLING.scheduler, denoise: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: ckptName } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: opts.size, height: opts.size, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: positive, clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: negative, clip: ['4', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'shapes', images: ['8', 0] } },
  };
}

/** SaveImage prefix of pair k in batchApiPrompt. */
export const pairPrefix = (k: number) => `case${String(k).padStart(3, '0')}`;

/**
 * Many (positive, negative) pairs in ONE API prompt, so a single `marble run` loads the model
 * once: one CheckpointLoaderSimple, one EmptyLatentImage of batch N, and per pair
 * LatentFromBatch(k) → KSampler → VAEDecode → SaveImage("caseNNN"). LatentFromBatch keeps
 * batch_index k, so pair k's initial noise is item k of one randn([N, 4, h, w]) from the seed,
 * exactly as evaluate.py draws it for a batch of N captions (ComfyUI's prepare_noise).
 */
export function batchApiPrompt(ckptName: string, pairs: readonly { positive: string; negative: string }[], opts: SamplingOptions): ApiPromptLike {
  if (pairs.length < 1 || pairs.length > 64) throw new Error(`batchApiPrompt: 1..64 pairs (LatentFromBatch's batch_index range), got ${pairs.length}`);
  const api: ApiPromptLike = {
    ckpt: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: ckptName } },
    latent: { class_type: 'EmptyLatentImage', inputs: { width: opts.size, height: opts.size, batch_size: pairs.length } },
  };
  pairs.forEach((p, k) => {
    api[`pos${k}`] = { class_type: 'CLIPTextEncode', inputs: { text: p.positive, clip: ['ckpt', 1] } };
    api[`neg${k}`] = { class_type: 'CLIPTextEncode', inputs: { text: p.negative, clip: ['ckpt', 1] } };
    api[`pick${k}`] = { class_type: 'LatentFromBatch', inputs: { samples: ['latent', 0], batch_index: k, length: 1 } };
    api[`ks${k}`] = { class_type: 'KSampler', inputs: { seed: opts.seed, steps: opts.steps, cfg: opts.cfg, sampler_name: TINY_SAMPLING.sampler, scheduler: TINY_SAMPLING.scheduler, denoise: 1, model: ['ckpt', 0], positive: [`pos${k}`, 0], negative: [`neg${k}`, 0], latent_image: [`pick${k}`, 0] } };
    api[`dec${k}`] = { class_type: 'VAEDecode', inputs: { samples: [`ks${k}`, 0], vae: ['ckpt', 2] } };
    api[`save${k}`] = { class_type: 'SaveImage', inputs: { filename_prefix: pairPrefix(k), images: [`dec${k}`, 0] } };
  });
  return api;
}
