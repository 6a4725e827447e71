// A `.safetensors` file (a full checkpoint, or a standalone VAE, U-Net or CLIP) to an
// optimum-layout ONNX folder: detection says what is in the file, the builders write one graph
// per component, and optimumLayout writes the files around them. Used through the conversion
// cache by the loader nodes, and directly by `marble convert-checkpoint --out DIR`.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile } from '../safetensors/read';
import { writeClipTextOnnx, writeUnetOnnx, writeVaeDecoderOnnx, writeVaeEncoderOnnx, type BuildOptions } from './build';
import type { Producer, Precision, SourceRole } from './conversionCache';
import { CheckpointError, detectCheckpoint, type DetectedCheckpoint, type WeightSource } from './detect';
import { writeOptimumLayout, type LayoutFacts } from './optimumLayout';

type Writer<C> = (outFile: string, cfg: C, w: WeightSource, opts: BuildOptions) => Promise<void>;

/** The graph writers; tests substitute their own to exercise conversion without real networks. */
export interface Builders {
  clip: Writer<NonNullable<DetectedCheckpoint['clip']>['config']>;
  unet: Writer<NonNullable<DetectedCheckpoint['unet']>['config']>;
  vaeDecoder: Writer<NonNullable<DetectedCheckpoint['vae']>['config']>;
  vaeEncoder: Writer<NonNullable<DetectedCheckpoint['vae']>['config']>;
}

export const DEFAULT_BUILDERS: Builders = {
  clip: writeClipTextOnnx,
  unet: writeUnetOnnx,
  vaeDecoder: writeVaeDecoderOnnx,
  vaeEncoder: writeVaeEncoderOnnx,
};

export interface ConvertOptions {
  role: SourceRole;
  precision: Precision;
  builders?: Builders;
}

/** What a conversion found, recorded in the cache marker and shown by the CLI. */
export interface ConversionSummary {
  [key: string]: unknown;
  family: string;
  prediction: string;
  components: string[];
  ignoredTensors: number;
}

const numel = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

function weightElements(w: WeightSource, keep: (name: string) => boolean = () => true): number {
  let n = 0;
  for (const name of w.names()) if (keep(name)) n += numel(w.shape(name));
  return Math.max(n, 1);
}

/** Opens and detects `file`; throws the reader's or detection's one-line error for bad input. */
async function detect(file: string, role: SourceRole): Promise<{ st: SafetensorsFile; detected: DetectedCheckpoint }> {
  const st = await SafetensorsFile.open(file);
  try {
    const detected = detectCheckpoint(st, { role });
    const wanted = role === 'checkpoint' ? detected.unet : role === 'vae' ? detected.vae : role === 'unet' ? detected.unet : detected.clip ?? detected.clipG;
    if (!wanted) throw new CheckpointError(file, `has no ${role === 'checkpoint' ? 'U-Net' : role === 'clip' ? 'CLIP text encoder' : role === 'vae' ? 'VAE' : 'U-Net'} to load as a ${role}`);
    return { st, detected };
  } catch (e) {
    await st.close().catch(() => undefined);
    throw e;
  }
}

function layoutFacts(d: DetectedCheckpoint, file: string): LayoutFacts {
  const facts: LayoutFacts = { family: d.family, prediction: d.prediction, source: path.basename(file) };
  const encoderFacts = (c: NonNullable<DetectedCheckpoint['clip']>['config']) => ({
    kind: c.kind, hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, intermediateSize: c.intermediateSize, maxPositions: c.maxPositions, vocabSize: c.vocabSize, activation: c.activation, projectionDim: c.projectionDim,
  });
  if (d.clip) facts.textEncoder = encoderFacts(d.clip.config);
  if (d.clipG) facts.textEncoder2 = encoderFacts(d.clipG.config);
  if (d.unet) {
    const u = d.unet.config;
    facts.unet = { inChannels: u.inChannels, outChannels: u.outChannels, contextDim: u.contextDim, modelChannels: u.modelChannels, channelMult: u.channelMult, useLinearInTransformer: u.useLinearInTransformer, admInChannels: u.admInChannels, admTimeValues: u.admTimeValues };
  }
  if (d.vae) facts.vae = { scalingFactor: d.vae.config.scalingFactor, latentChannels: d.vae.config.zChannels, ch: d.vae.config.ch, chMult: d.vae.config.chMult };
  return facts;
}

/**
 * Checks `file` (header, layout, family) and returns the producer that converts it. Nothing is
 * written here, so the conversion cache calls this before it creates anything.
 */
export async function prepareConversion(file: string, opts: ConvertOptions): Promise<Producer> {
  const { st } = await detect(file, opts.role);
  await st.close();
  const builders = opts.builders ?? DEFAULT_BUILDERS;
  return async (outDir, onProgress, signal) => {
    const { st: source, detected: d } = await detect(file, opts.role);
    try {
      type Step = { component: string; size: number; write: (outFile: string, p: (done: number, total: number) => void) => Promise<void> };
      const steps: Step[] = [];
      const take = opts.role === 'checkpoint' ? { clip: true, unet: true, vae: true } : { clip: opts.role === 'clip', unet: opts.role === 'unet', vae: opts.role === 'vae' };
      const build = (p: (done: number, total: number) => void): BuildOptions => ({ precision: opts.precision, onProgress: p });
      if (take.clip && d.clip) {
        const c = d.clip;
        steps.push({ component: 'text_encoder', size: weightElements(c.weights), write: (f, p) => builders.clip(f, c.config, c.weights, build(p)) });
      }
      if (take.clip && d.clipG && opts.role === 'checkpoint') {
        const c = d.clipG;
        steps.push({ component: 'text_encoder_2', size: weightElements(c.weights), write: (f, p) => builders.clip(f, c.config, c.weights, build(p)) });
      }
      if (take.unet && d.unet) {
        const u = d.unet;
        steps.push({ component: 'unet', size: weightElements(u.weights), write: (f, p) => builders.unet(f, u.config, u.weights, build(p)) });
      }
      if (take.vae && d.vae) {
        const v = d.vae;
        steps.push({ component: 'vae_decoder', size: weightElements(v.weights, (n) => !n.startsWith('encoder.') && n !== 'quant_conv.weight' && n !== 'quant_conv.bias'), write: (f, p) => builders.vaeDecoder(f, v.config, v.weights, build(p)) });
        steps.push({ component: 'vae_encoder', size: weightElements(v.weights, (n) => !n.startsWith('decoder.') && !n.startsWith('post_quant_conv.')), write: (f, p) => builders.vaeEncoder(f, v.config, v.weights, build(p)) });
      }
      const total = steps.reduce((n, s) => n + s.size, 0);
      let before = 0;
      for (const step of steps) {
        signal?.throwIfAborted();
        await fsp.mkdir(path.join(outDir, step.component), { recursive: true });
        await step.write(path.join(outDir, step.component, 'model.onnx'), (done, all) => {
          // Interrupt stops a long U-Net conversion between tensors; the cache drops the temp folder.
          signal?.throwIfAborted();
          const frac = all > 0 ? Math.min(1, Math.max(0, done / all)) : 0;
          onProgress((before + frac * step.size) / total);
        });
        before += step.size;
        onProgress(before / total);
      }
      const facts = layoutFacts(d, file);
      if (!take.clip) {
        delete facts.textEncoder;
        delete facts.textEncoder2;
      }
      if (!take.unet) delete facts.unet;
      if (!take.vae) delete facts.vae;
      await writeOptimumLayout(outDir, facts);
      const summary: ConversionSummary = { family: d.family, prediction: d.prediction, components: steps.map((s) => s.component), ignoredTensors: d.ignored.length };
      if (d.clip) summary.clipLayers = d.clip.config.numLayers;
      return summary;
    } finally {
      await source.close().catch(() => undefined);
    }
  };
}

/**
 * `marble convert-checkpoint`: converts into `outDir`, which must not exist yet (or be empty). The
 * folder appears complete or not at all: conversion writes a sibling temp folder, then renames.
 */
export async function convertCheckpointToFolder(
  file: string,
  outDir: string,
  opts: ConvertOptions & { onProgress?: (fraction: number) => void; signal?: AbortSignal },
): Promise<ConversionSummary> {
  const target = path.resolve(outDir);
  const existing = await fsp.readdir(target).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  if (existing && existing.length > 0) throw new Error(`${target} already exists and is not empty; choose a new folder for --out`);
  const produce = await prepareConversion(file, opts);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fsp.mkdir(tmp);
  try {
    const summary = ((await produce(tmp, opts.onProgress ?? (() => undefined), opts.signal)) ?? {}) as ConversionSummary;
    if (existing) await fsp.rmdir(target);
    await fsp.rename(tmp, target);
    return summary;
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}
