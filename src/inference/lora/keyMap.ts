// Which model weight a LoRA module name patches, for the names people's files use (the same
// names ComfyUI's comfy/lora.py accepts: model_lora_keys_unet / model_lora_keys_clip):
//   U-Net: kohya `lora_unet_<LDM name with _>` and `lora_unet_<diffusers name with _>`,
//          diffusers `unet.<diffusers name>` / `<diffusers name>` (also with `.processor.`),
//          the plain LDM name (`input_blocks.1.1.proj_in`, `diffusion_model.` optional),
//          `lycoris_<diffusers name with _>`.
//   CLIP:  kohya `lora_te_` / `lora_te1_` (CLIP-L, or SD2's OpenCLIP-H) and `lora_te2_` (SDXL's
//          OpenCLIP-G), diffusers `text_encoder.` / `text_encoder_2.`, `text_encoders.clip_x.transformer.`.
// Targets are LDM names for the U-Net (`input_blocks.1.1.proj_in.weight`) and HF CLIP names for
// the text encoders (`text_model.encoder.layers.0.self_attn.q_proj.weight`), the names Marble's
// converter gives the graph's initializers.

export interface UnetLayout {
  /** ResBlocks per level (SD1/SD2/SDXL: the same for every level). */
  numRes: number;
}

/** The U-Net's block layout, read from its LDM weight names. */
export function unetLayoutOf(ldmWeights: readonly string[]): UnetLayout {
  let firstDown = Infinity;
  let maxInput = 0;
  for (const n of ldmWeights) {
    const m = /^input_blocks\.(\d+)\.0\.(op|in_layers)\./.exec(n);
    if (!m) continue;
    maxInput = Math.max(maxInput, +m[1]);
    if (m[2] === 'op') firstDown = Math.min(firstDown, +m[1]);
  }
  return { numRes: Number.isFinite(firstDown) ? firstDown - 1 : maxInput };
}

const RESNET: [string, string][] = [
  ['in_layers.0', 'norm1'],
  ['in_layers.2', 'conv1'],
  ['emb_layers.1', 'time_emb_proj'],
  ['out_layers.0', 'norm2'],
  ['out_layers.3', 'conv2'],
  ['skip_connection', 'conv_shortcut'],
];
const BASIC: [string, string][] = [
  ['input_blocks.0.0', 'conv_in'],
  ['out.0', 'conv_norm_out'],
  ['out.2', 'conv_out'],
  ['time_embed.0', 'time_embedding.linear_1'],
  ['time_embed.2', 'time_embedding.linear_2'],
  ['label_emb.0.0', 'add_embedding.linear_1'],
  ['label_emb.0.2', 'add_embedding.linear_2'],
];

function resnetPart(rest: string): string | undefined {
  for (const [ldm, diff] of RESNET) if (rest === ldm || rest.startsWith(`${ldm}.`)) return diff + rest.slice(ldm.length);
  return undefined;
}

/**
 * The diffusers name of an LDM U-Net module (no `.weight`), as ComfyUI's unet_to_diffusers pairs
 * them: input block n ≥ 1 is down level ⌊(n−1)/(R+1)⌋, the (R+1)-th of a level its downsampler;
 * output block n is up level ⌊n/(R+1)⌋; middle block 0/1/2 are resnet 0, attention 0, resnet 1.
 */
export function ldmToDiffusers(module: string, layout: UnetLayout): string | undefined {
  for (const [ldm, diff] of BASIC) if (module === ldm || module.startsWith(`${ldm}.`)) return diff + module.slice(ldm.length);
  const per = layout.numRes + 1;
  let m: RegExpExecArray | null;
  if ((m = /^input_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(module))) {
    const n = +m[1] - 1;
    const level = Math.floor(n / per);
    const i = n % per;
    if (i === layout.numRes) return m[2] === '0' && m[3].startsWith('op') ? `down_blocks.${level}.downsamplers.0.conv${m[3].slice(2)}` : undefined;
    if (m[2] === '0') {
      const part = resnetPart(m[3]);
      return part && `down_blocks.${level}.resnets.${i}.${part}`;
    }
    return m[2] === '1' ? `down_blocks.${level}.attentions.${i}.${m[3]}` : undefined;
  }
  if ((m = /^middle_block\.(\d)\.(.+)$/.exec(module))) {
    if (m[1] === '1') return `mid_block.attentions.0.${m[2]}`;
    const part = resnetPart(m[2]);
    return part && `mid_block.resnets.${m[1] === '0' ? 0 : 1}.${part}`;
  }
  if ((m = /^output_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(module))) {
    const level = Math.floor(+m[1] / per);
    const i = +m[1] % per;
    if (m[2] === '0') {
      const part = resnetPart(m[3]);
      return part && `up_blocks.${level}.resnets.${i}.${part}`;
    }
    if (m[3].startsWith('conv')) return `up_blocks.${level}.upsamplers.0.${m[3]}`;
    return m[2] === '1' ? `up_blocks.${level}.attentions.${i}.${m[3]}` : undefined;
  }
  return undefined;
}

/** LoRA module name → target weight name, for a U-Net whose weights are `ldmWeights` (`….weight`). */
export function unetLoraKeys(ldmWeights: readonly string[]): Map<string, string> {
  const layout = unetLayoutOf(ldmWeights);
  const map = new Map<string, string>();
  for (const w of ldmWeights) {
    if (!w.endsWith('.weight')) continue;
    const module = w.slice(0, -'.weight'.length);
    const under = module.replace(/\./g, '_');
    map.set(`lora_unet_${under}`, w);
    map.set(module, w);
    map.set(`diffusion_model.${module}`, w);
    const diff = ldmToDiffusers(module, layout);
    if (!diff) continue;
    const dUnder = diff.replace(/\./g, '_');
    map.set(`lora_unet_${dUnder}`, w);
    map.set(`lycoris_${dUnder}`, w);
    for (const p of ['', 'unet.']) {
      map.set(`${p}${diff}`, w);
      // The attention-processor names of older diffusers LoRAs (ComfyUI's `.processor.to_`).
      let proc = `${p}${diff.replace(/\.to_/g, '.processor.to_')}`;
      if (proc.endsWith('.to_out.0')) proc = proc.slice(0, -2);
      map.set(proc, w);
    }
  }
  return map;
}

/** kohya's spelling of the CLIP module names (comfy/lora.py LORA_CLIP_MAP). */
const CLIP_MODULES = ['mlp.fc1', 'mlp.fc2', 'self_attn.k_proj', 'self_attn.q_proj', 'self_attn.v_proj', 'self_attn.out_proj'];

export type ClipRole = 'clip_l' | 'clip_h' | 'clip_g';

/**
 * LoRA module name → target weight for one text encoder with HF names `hfWeights`. `second` is
 * SDXL's second encoder (OpenCLIP-G: `lora_te2_`, `text_encoder_2.`); SD1's CLIP-L and SD2's
 * OpenCLIP-H answer to `lora_te_`, `lora_te1_` and `text_encoder.`.
 */
export function clipLoraKeys(hfWeights: readonly string[], role: ClipRole, second = false): Map<string, string> {
  const map = new Map<string, string>();
  const have = new Set(hfWeights);
  for (const w of hfWeights) {
    if (w.endsWith('.weight')) map.set(`text_encoders.${role}.transformer.${w.slice(0, -'.weight'.length)}`, w);
  }
  for (let b = 0; b < 64; b++) {
    for (const c of CLIP_MODULES) {
      const w = `text_model.encoder.layers.${b}.${c}.weight`;
      if (!have.has(w)) continue;
      const kohya = `text_model_encoder_layers_${b}_${c.replace('.', '_')}`;
      if (second) {
        map.set(`lora_te2_${kohya}`, w);
        map.set(`text_encoder_2.text_model.encoder.layers.${b}.${c}`, w);
      } else {
        map.set(`lora_te_${kohya}`, w);
        map.set(`lora_te1_${kohya}`, w);
        map.set(`text_encoder.text_model.encoder.layers.${b}.${c}`, w);
      }
    }
  }
  if (have.has('text_projection.weight')) map.set(second ? 'lora_te2_text_projection' : 'lora_te1_text_projection', 'text_projection.weight');
  return map;
}
