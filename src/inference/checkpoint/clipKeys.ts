// The CLIP text encoder's weights under HF CLIPTextModel names, whatever naming the file uses:
// HF names (SD1's `cond_stage_model.transformer.[text_model.]…`, standalone `text_model.…`) or
// OpenCLIP's (SD2's `cond_stage_model.model.…`), renamed as ComfyUI's
// utils.clip_text_transformers_convert does: fused in_proj split into q/k/v, the raw
// `text_projection` parameter transposed into a Linear weight.
import type { TensorSource, WeightMapping } from './weights';

export interface ClipTextConfig {
  kind: 'clip-l' | 'open-clip-h' | 'open-clip-g';
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  activation: 'quick_gelu' | 'gelu';
  projectionDim?: number;
  eosTokenId: number;
  padTokenId: number;
}

export interface ClipMapping {
  map: Map<string, WeightMapping>;
  /** file names under the prefix that the text model does not use (position_ids, logit_scale…) */
  unused: string[];
}

const HF_PARTS = ['embeddings.', 'encoder.', 'final_layer_norm.'];

/**
 * HF-named CLIP under `prefix`: `<prefix>text_model.X`, or `<prefix>X` for files saved without
 * the `text_model.` level (ComfyUI's SD15.process_clip_state_dict moves those under it).
 */
export function hfClipMapping(source: TensorSource, prefix: string): ClipMapping {
  const map = new Map<string, WeightMapping>();
  const unused: string[] = [];
  for (const [raw, t] of source.tensors) {
    if (!raw.startsWith(prefix)) continue;
    let rest = raw.slice(prefix.length);
    if (!rest.startsWith('text_model.') && HF_PARTS.some((p) => rest.startsWith(p))) rest = `text_model.${rest}`;
    const used =
      (rest.startsWith('text_model.') && !rest.endsWith('.position_ids') && HF_PARTS.some((p) => rest.startsWith(`text_model.${p}`))) ||
      rest === 'text_projection.weight';
    if (used) map.set(rest, { raw, shape: [...t.shape] });
    else unused.push(raw);
  }
  return { map, unused };
}

const RESBLOCK_RENAMES: [string, string][] = [
  ['ln_1', 'layer_norm1'],
  ['ln_2', 'layer_norm2'],
  ['mlp.c_fc', 'mlp.fc1'],
  ['mlp.c_proj', 'mlp.fc2'],
  ['attn.out_proj', 'self_attn.out_proj'],
];

/** OpenCLIP-named text tower under `prefix` (SD2's `cond_stage_model.model.`). */
export function openClipMapping(source: TensorSource, prefix: string): ClipMapping {
  const map = new Map<string, WeightMapping>();
  const unused: string[] = [];
  const put = (name: string, raw: string, extra: Partial<WeightMapping> = {}) => {
    const shape = source.tensors.get(raw)!.shape;
    map.set(name, { raw, shape: [...shape], ...extra });
  };
  for (const [raw, t] of source.tensors) {
    if (!raw.startsWith(prefix)) continue;
    const rest = raw.slice(prefix.length);
    if (rest === 'positional_embedding') put('text_model.embeddings.position_embedding.weight', raw);
    else if (rest === 'token_embedding.weight') put('text_model.embeddings.token_embedding.weight', raw);
    else if (rest === 'ln_final.weight' || rest === 'ln_final.bias') put(`text_model.final_layer_norm.${rest.slice('ln_final.'.length)}`, raw);
    else if (rest === 'text_projection.weight') put('text_projection.weight', raw);
    else if (rest === 'text_projection' && t.shape.length === 2) {
      map.set('text_projection.weight', { raw, shape: [t.shape[1], t.shape[0]], transpose: true });
    } else {
      // OpenCLIP's fused projection is `attn.in_proj_weight` (an nn.MultiheadAttention parameter).
      const m = /^transformer\.resblocks\.(\d+)\.(attn\.in_proj)_(weight|bias)$/.exec(rest) ?? /^transformer\.resblocks\.(\d+)\.(.+)\.(weight|bias)$/.exec(rest);
      if (!m) {
        unused.push(raw);
        continue;
      }
      const [, layer, part, kind] = m;
      const base = `text_model.encoder.layers.${layer}.`;
      const rename = RESBLOCK_RENAMES.find(([from]) => from === part);
      if (rename) put(`${base}${rename[1]}.${kind}`, raw);
      else if (part === 'attn.in_proj' && t.shape[0] % 3 === 0) {
        const n = t.shape[0] / 3;
        ['q_proj', 'k_proj', 'v_proj'].forEach((p, i) => {
          map.set(`${base}self_attn.${p}.${kind}`, { raw, shape: [n, ...t.shape.slice(1)], rows: { start: i * n, count: n } });
        });
      } else unused.push(raw);
    }
  }
  return { map, unused };
}

/** True when `prefix` holds OpenCLIP-named text weights. */
export function hasOpenClipKeys(names: Iterable<string>, prefix: string): boolean {
  for (const n of names) if (n.startsWith(`${prefix}transformer.resblocks.`) || n === `${prefix}token_embedding.weight`) return true;
  return false;
}

/**
 * The text model's configuration from canonical names and shapes. ComfyUI uses fixed configs per
 * family (sd1_clip_config.json, sd2_clip_config.json…); these are the values those configs hold,
 * recognised by width. Throws a plain Error naming what is missing or unknown.
 */
export function clipConfigOf(map: ReadonlyMap<string, WeightMapping>, hint?: ClipTextConfig['kind']): ClipTextConfig {
  const shape = (name: string) => {
    const m = map.get(name);
    if (!m) throw new Error(`the text encoder has no '${name}'`);
    return m.shape;
  };
  const [vocabSize, hiddenSize] = shape('text_model.embeddings.token_embedding.weight');
  const [maxPositions] = shape('text_model.embeddings.position_embedding.weight');
  const names = [...map.keys()];
  let numLayers = 0;
  while (names.some((n) => n.startsWith(`text_model.encoder.layers.${numLayers}.`))) numLayers++;
  if (numLayers === 0) throw new Error('the text encoder has no layers (text_model.encoder.layers.0.*)');
  const [intermediateSize] = shape('text_model.encoder.layers.0.mlp.fc1.weight');
  for (let i = 0; i < numLayers; i++) {
    for (const part of ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'self_attn.out_proj.weight', 'mlp.fc2.weight', 'layer_norm1.weight', 'layer_norm2.weight']) {
      shape(`text_model.encoder.layers.${i}.${part}`);
    }
  }
  shape('text_model.final_layer_norm.weight');
  const kinds: Record<number, { kind: ClipTextConfig['kind']; activation: ClipTextConfig['activation']; padTokenId: number }> = {
    // SD1Tokenizer pads with the end token; SD2/SDXL-G tokenizers pad with 0 (pad_with_end=False).
    768: { kind: 'clip-l', activation: 'quick_gelu', padTokenId: 49407 },
    1024: { kind: 'open-clip-h', activation: 'gelu', padTokenId: 0 },
    1280: { kind: 'open-clip-g', activation: 'gelu', padTokenId: 0 },
  };
  // Real encoders are recognised by width; a small test encoder takes the kind its U-Net or its
  // naming implies, with 64-wide heads like the real ones.
  const byHint = hint && Object.values(kinds).find((v) => v.kind === hint);
  const k = kinds[hiddenSize] ?? (hiddenSize % 64 === 0 ? byHint : undefined);
  if (!k) throw new Error(`the text encoder is ${hiddenSize} wide; known: 768 (CLIP-L), 1024 (OpenCLIP-H), 1280 (OpenCLIP-G), or a multiple of 64 in a known layout`);
  const proj = map.get('text_projection.weight');
  return {
    kind: k.kind,
    hiddenSize,
    numLayers,
    numHeads: hiddenSize / 64,
    intermediateSize,
    vocabSize,
    maxPositions,
    activation: k.activation,
    ...(proj ? { projectionDim: proj.shape[0] } : {}),
    eosTokenId: 49407,
    padTokenId: k.padTokenId,
  };
}
