// LoraLoader and LoraLoaderModelOnly (ComfyUI's nodes.py): a LoRA from `models/loras/` applied
// to the MODEL (strength_model) and the CLIP (strength_clip). As in ComfyUI the patches are lazy:
// the node checks the file against the model's weights (names, shapes, SD family), reports the
// tensors it cannot place ("lora key not loaded: …", ComfyUI's own log line) and returns a model
// and clip that carry the patch list; the weights are patched when a session is opened
// (lora/applyPatches.ts), from the cached conversion, so chaining LoraLoaders stacks, and changing
// a strength or removing a LoRA never converts the checkpoint again.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { NodeContext, NodeDefinition } from '../../workflow/nodeDefinition';
import type { ComponentSession } from '../models';
import { ModelFolderError, resolveModel } from '../models';
import type { ComponentPatch } from '../lora/applyPatches';
import { readComponentGraph, type PatchTarget } from '../lora/graphTargets';
import { clipLoraKeys, unetLoraKeys, type ClipRole } from '../lora/keyMap';
import { LoraFileError, openLora, type LoraModule } from '../lora/loraFile';
import type { ModelServices } from './modelServices';
import { asClip, asModel, type ClipModel, type SdModel } from './modelTypes';
import { schemaOf } from './schema';

/** A component's patchable weights, read once per model file (and again if it changes). */
const targetCache = new Map<string, { mtimeMs: number; targets: Map<string, PatchTarget> }>();

async function targetsOf(session: ComponentSession): Promise<Map<string, PatchTarget>> {
  const st = await fsp.stat(session.file);
  const hit = targetCache.get(session.file);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.targets;
  const { targets } = await readComponentGraph(session.file);
  targetCache.set(session.file, { mtimeMs: st.mtimeMs, targets });
  return targets;
}

interface Side {
  session: ComponentSession;
  keys: Map<string, string>;
  targets: Map<string, PatchTarget>;
  matched: { module: LoraModule; target: string }[];
}

/** Cross-attention context width a LoRA's U-Net modules expect (768 SD1, 1024 SD2, 2048 SDXL). */
function loraContextDim(modules: readonly LoraModule[]): number | undefined {
  const m = modules.find((x) => /attn2[._](processor[._])?to_k$/.test(x.name) && /unet|down_blocks|input_blocks|middle|mid_block|up_blocks|output_blocks/.test(x.name));
  return m?.inShape[0];
}

function modelContextDim(targets: Map<string, PatchTarget>): number | undefined {
  for (const [name, t] of targets) if (/\.attn2\.to_k\.weight$/.test(name)) return t.shape[1];
  return undefined;
}

const familyOf = (ctx: number | undefined) => (ctx === 2048 ? 'SDXL' : ctx === 1024 ? 'SD2.x' : ctx === 768 ? 'SD1.x' : ctx === undefined ? 'a model without cross-attention' : `a ${ctx}-wide cross-attention`);

function clipRole(targets: Map<string, PatchTarget>): ClipRole {
  const q = targets.get('text_model.encoder.layers.0.self_attn.q_proj.weight');
  return q?.shape[0] === 1280 ? 'clip_g' : q?.shape[0] === 1024 ? 'clip_h' : 'clip_l';
}

/**
 * The CLIP's text encoders and the key family each answers to, as comfy/lora.py maps them: SD1/SD2
 * one encoder (lora_te_, lora_te1_, text_encoder.); SDXL base CLIP-L likewise and OpenCLIP-G as
 * the second (lora_te2_, text_encoder_2.); the refiner's lone OpenCLIP-G as the first.
 */
function clipEncoders(clip: ClipModel | undefined): { session: ComponentSession; second: boolean }[] {
  if (!clip) return [];
  if (!clip.sdxl) return [{ session: clip.encoder, second: false }];
  const { l, g } = clip.sdxl;
  return [...(l ? [{ session: l.encoder, second: false }] : []), { session: g.encoder, second: l !== undefined }];
}

/** `clip` with every text encoder session replaced by `f(session)` (the SDXL pair included). */
function withEncoders(clip: ClipModel, f: (s: ComponentSession) => ComponentSession): ClipModel {
  if (!clip.sdxl) return { ...clip, encoder: f(clip.encoder) };
  const { l, g } = clip.sdxl;
  return { ...clip, encoder: f(clip.encoder), sdxl: { ...(l ? { l: { ...l, encoder: f(l.encoder) } } : {}), g: { ...g, encoder: f(g.encoder) } } };
}

async function applyLora(services: ModelServices, ctx: NodeContext, model: SdModel, clip: ClipModel | undefined, name: string, strengthModel: number, strengthClip: number): Promise<[SdModel, ClipModel | undefined]> {
  let resolved;
  try {
    resolved = resolveModel(services.getConfig().modelsRoots, 'loras', name);
  } catch (e) {
    if (e instanceof ModelFolderError) throw new ModelFolderError(e.code, `input 'lora_name': ${e.message}`);
    throw e;
  }
  if (resolved.kind !== 'safetensors') throw new Error(`input 'lora_name': ${name} is not a .safetensors LoRA file`);
  const file = resolved.file;
  const base = path.basename(file);
  let lora;
  try {
    lora = await openLora(file);
  } catch (e) {
    if (e instanceof LoraFileError) throw new Error(`input 'lora_name': ${e.message}`);
    throw e;
  }
  try {
    const unetTargets = await targetsOf(model.unet);
    const sides: Side[] = [{ session: model.unet, keys: unetLoraKeys([...unetTargets.keys()]), targets: unetTargets, matched: [] }];
    const clipSides: Side[] = [];
    for (const { session, second } of clipEncoders(clip)) {
      const t = await targetsOf(session);
      clipSides.push({ session, keys: clipLoraKeys([...t.keys()], clipRole(t), second), targets: t, matched: [] });
    }

    // A LoRA for another family fails in one line before any key is matched.
    const want = loraContextDim(lora.modules);
    const have = modelContextDim(unetTargets);
    const sdxlTe = lora.modules.some((m) => /^(lora_te2_|text_encoder_2\.)/.test(m.name));
    // Text-encoder-2 modules (lora_te2_, text_encoder_2.) belong to SDXL base, whose U-Net takes six size values.
    const sdxlBase = model.sdxl?.timeValues === 6;
    if ((want !== undefined && have !== undefined && want !== have) || (sdxlTe && !sdxlBase)) {
      const modelFamily = model.sdxl ? (sdxlBase ? 'SDXL' : 'the SDXL refiner') : familyOf(have);
      throw new Error(`input 'lora_name': ${base} is a LoRA for ${sdxlTe ? 'SDXL' : familyOf(want)}, but the model '${model.name}' is ${modelFamily}`);
    }

    const notLoaded: string[] = [...lora.stray];
    for (const m of lora.modules) {
      const side = [...sides, ...clipSides].find((s) => s.keys.has(m.name));
      if (!side) {
        notLoaded.push(...m.tensors);
        continue;
      }
      const target = side.keys.get(m.name)!;
      const shape = side.targets.get(target)!.shape;
      const inner = shape.slice(1).reduce((a, b) => a * b, 1);
      const mInner = m.inShape.reduce((a, b) => a * b, 1);
      if (shape[0] !== m.outDim || inner !== mInner || (m.inShape.length === 3 && shape.length === 4 && (m.inShape[1] !== shape[2] || m.inShape[2] !== shape[3]))) {
        throw new Error(`input 'lora_name': ${base}: module '${m.name}' is [${m.outDim}, ${m.inShape.join(', ')}] but the model's ${target} is [${shape.join(', ')}]`);
      }
      if (m.dora && m.doraCount !== shape[1]) {
        throw new Error(`input 'lora_name': ${base}: '${m.dora}' holds ${m.doraCount} values; the model's ${target} has ${shape[1]} input channels`);
      }
      side.matched.push({ module: m, target });
    }
    const matchedCount = [...sides, ...clipSides].reduce((n, s) => n + s.matched.length, 0);
    if (matchedCount === 0 && lora.modules.length > 0) {
      throw new Error(
        `input 'lora_name': none of the ${lora.modules.length} modules of ${base} match a weight of '${model.name}' (first: '${lora.modules[0].name}'); LoRAs apply to models loaded from .safetensors checkpoints`,
      );
    }
    notLoaded.sort();
    for (const k of notLoaded) ctx.log(`lora key not loaded: ${k}`);
    if (notLoaded.length) ctx.log(`${base}: ${notLoaded.length} of ${lora.st.tensors.size} tensors not loaded (no matching weight in '${model.name}'${clip ? '' : ' without a CLIP'})`);

    const { size, mtimeMs } = await fsp.stat(file);
    const identity = `${size}:${mtimeMs}`;
    const patch = (s: Side, strength: number): ComponentPatch[] => (s.matched.length && strength !== 0 ? [{ file, identity, strength, modules: s.matched }] : []);
    const outModel: SdModel = { ...model, unet: model.unet.withPatches(patch(sides[0], strengthModel)) };
    const patched = new Map(clipSides.map((s) => [s.session, s.session.withPatches(patch(s, strengthClip))]));
    return [outModel, clip && withEncoders(clip, (e) => patched.get(e) ?? e)];
  } finally {
    await lora.st.close().catch(() => undefined);
  }
}

function strength(v: unknown, input: string): number {
  const n = Number(v ?? 1);
  if (!Number.isFinite(n)) throw new Error(`input '${input}' must be a number, got ${JSON.stringify(v)}`);
  return n;
}

export function loraNodes(services: ModelServices): NodeDefinition[] {
  return [
    {
      schema: schemaOf('LoraLoader'),
      async run(inputs, ctx) {
        const model = asModel(inputs.model);
        const clip = asClip(inputs.clip);
        const sm = strength(inputs.strength_model, 'strength_model');
        const sc = strength(inputs.strength_clip, 'strength_clip');
        if (sm === 0 && sc === 0) return { outputs: [model, clip] };
        const [m, c] = await applyLora(services, ctx, model, clip, String(inputs.lora_name), sm, sc);
        return { outputs: [m, c] };
      },
    },
    {
      schema: schemaOf('LoraLoaderModelOnly'),
      async run(inputs, ctx) {
        const model = asModel(inputs.model);
        const sm = strength(inputs.strength_model, 'strength_model');
        if (sm === 0) return { outputs: [model] };
        const [m] = await applyLora(services, ctx, model, undefined, String(inputs.lora_name), sm, 0);
        return { outputs: [m] };
      },
    },
  ];
}
