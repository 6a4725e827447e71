// The KL VAE's weights under LDM names (`encoder.down.0.block.0.conv1.weight`,
// `decoder.mid.attn_1.q.weight` as a 1×1 conv), from LDM-named files or diffusers-named ones
// (renamed as ComfyUI's diffusers_convert.convert_vae_state_dict does: up blocks numbered in
// reverse, attention Linear weights reshaped to [C, C, 1, 1]).
import type { TensorSource, WeightMapping } from './weights';

export interface VaeConfig {
  zChannels: number;
  ch: number;
  chMult: number[];
  numResBlocks: number;
  inChannels: number;
  outCh: number;
  scalingFactor: number;
}

/** SD1/SD2 latents (latent_formats.SD15); SDXL uses 0.13025 with the same architecture. */
export const SD_SCALING_FACTOR = 0.18215;
export const SDXL_SCALING_FACTOR = 0.13025;

const VAE_TOP = ['encoder.', 'decoder.', 'quant_conv.', 'post_quant_conv.'];

export function isVaeName(rest: string): boolean {
  return VAE_TOP.some((p) => rest.startsWith(p));
}

/** Diffusers names use down_blocks/up_blocks/mid_block; LDM names never do. */
export function isDiffusersVae(names: Iterable<string>, prefix: string): boolean {
  for (const n of names) {
    if (n.startsWith(`${prefix}encoder.down_blocks.`) || n.startsWith(`${prefix}decoder.up_blocks.`) || n.startsWith(`${prefix}decoder.mid_block.`)) return true;
  }
  return false;
}

const ATTN_RENAMES: [RegExp, string][] = [
  [/^group_norm\./, 'norm.'],
  [/^(query|to_q)\./, 'q.'],
  [/^(key|to_k)\./, 'k.'],
  [/^(value|to_v)\./, 'v.'],
  [/^(proj_attn|to_out\.0)\./, 'proj_out.'],
];

/** LDM name for a diffusers VAE name (without prefix), or undefined if it is not a VAE weight. */
function ldmName(name: string, upCount: number): string | undefined {
  let m: RegExpExecArray | null;
  const res = (s: string) => s.replace(/^conv_shortcut\./, 'nin_shortcut.');
  if ((m = /^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name))) return `encoder.down.${m[1]}.block.${m[2]}.${res(m[3])}`;
  if ((m = /^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+)$/.exec(name))) return `encoder.down.${m[1]}.downsample.${m[2]}`;
  if ((m = /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name))) return `decoder.up.${upCount - 1 - Number(m[1])}.block.${m[2]}.${res(m[3])}`;
  if ((m = /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)$/.exec(name))) return `decoder.up.${upCount - 1 - Number(m[1])}.upsample.${m[2]}`;
  if ((m = /^(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)$/.exec(name))) return `${m[1]}.mid.block_${Number(m[2]) + 1}.${res(m[3])}`;
  if ((m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(.+)$/.exec(name))) {
    let rest = m[2];
    for (const [re, to] of ATTN_RENAMES) rest = rest.replace(re, to);
    return `${m[1]}.mid.attn_1.${rest}`;
  }
  if ((m = /^(encoder|decoder)\.conv_norm_out\.(.+)$/.exec(name))) return `${m[1]}.norm_out.${m[2]}`;
  if (/^(encoder|decoder)\.(conv_in|conv_out)\./.test(name) || /^(post_)?quant_conv\./.test(name)) return name;
  return undefined;
}

export interface VaeMapping {
  map: Map<string, WeightMapping>;
  unused: string[];
}

/** VAE weights under `prefix` ('' for a standalone file, `first_stage_model.` in a checkpoint). */
export function vaeMapping(source: TensorSource, prefix: string): VaeMapping {
  const map = new Map<string, WeightMapping>();
  const unused: string[] = [];
  const names = [...source.tensors.keys()];
  if (!isDiffusersVae(names, prefix)) {
    for (const [raw, t] of source.tensors) {
      if (!raw.startsWith(prefix)) continue;
      const rest = raw.slice(prefix.length);
      if (isVaeName(rest)) map.set(rest, { raw, shape: [...t.shape] });
      else unused.push(raw);
    }
    return { map, unused };
  }
  let upCount = 0;
  while (names.some((n) => n.startsWith(`${prefix}decoder.up_blocks.${upCount}.`))) upCount++;
  for (const [raw, t] of source.tensors) {
    if (!raw.startsWith(prefix)) continue;
    const to = ldmName(raw.slice(prefix.length), upCount);
    if (!to) {
      unused.push(raw);
      continue;
    }
    // Diffusers attention projections are Linear [C, C]; the LDM block uses 1×1 convolutions.
    const linearAttn = /\.mid\.attn_1\.(q|k|v|proj_out)\.weight$/.test(to) && t.shape.length === 2;
    map.set(to, { raw, shape: linearAttn ? [...t.shape, 1, 1] : [...t.shape] });
  }
  return { map, unused };
}

/** The VAE's configuration from LDM names and shapes (the ddconfig ComfyUI builds for SD VAEs). */
export function vaeConfigOf(map: ReadonlyMap<string, WeightMapping>, scalingFactor = SD_SCALING_FACTOR): VaeConfig {
  const shape = (name: string) => {
    const m = map.get(name);
    if (!m) throw new Error(`the VAE has no '${name}'`);
    return m.shape;
  };
  const [ch, inChannels] = shape('encoder.conv_in.weight');
  const [, zChannels] = shape('decoder.conv_in.weight');
  const [outCh] = shape('decoder.conv_out.weight');
  const names = [...map.keys()];
  let levels = 0;
  while (names.some((n) => n.startsWith(`encoder.down.${levels}.`))) levels++;
  if (levels === 0) throw new Error("the VAE has no encoder levels ('encoder.down.0.*')");
  let numResBlocks = 0;
  while (names.some((n) => n.startsWith(`encoder.down.0.block.${numResBlocks}.`))) numResBlocks++;
  const chMult: number[] = [];
  for (let i = 0; i < levels; i++) chMult.push(shape(`encoder.down.${i}.block.0.conv2.weight`)[0] / ch);
  const [encOut] = shape('encoder.conv_out.weight');
  if (encOut !== 2 * zChannels) throw new Error(`the VAE encoder gives ${encOut} channels; a KL VAE with ${zChannels} latent channels gives ${2 * zChannels}`);
  for (const n of ['quant_conv.weight', 'post_quant_conv.weight', 'encoder.mid.attn_1.q.weight', 'decoder.mid.attn_1.q.weight', 'decoder.norm_out.weight']) shape(n);
  return { zChannels, ch, chMult, numResBlocks, inChannels, outCh, scalingFactor };
}
