// Diffusers-named U-Nets (`unet/diffusion_pytorch_model.safetensors`: conv_in, down_blocks.*,
// mid_block.*, up_blocks.*) renamed to the LDM names the builders use, following the block
// numbering of ComfyUI's utils.unet_to_diffusers: each down level holds its ResBlocks then a
// downsampler, each up level one ResBlock more than the matching down level.
import { countBlocks } from './unetConfig';
import type { TensorSource, WeightMapping } from './weights';

/** True when the file's names under `prefix` are a diffusers UNet2DConditionModel's. */
export function isDiffusersUnet(names: readonly string[], prefix = ''): boolean {
  return names.includes(`${prefix}conv_in.weight`) && names.some((n) => n.startsWith(`${prefix}down_blocks.`)) && names.some((n) => n.startsWith(`${prefix}time_embedding.`));
}

const RESNET_PARTS: [string, string][] = [
  ['norm1', 'in_layers.0'],
  ['conv1', 'in_layers.2'],
  ['time_emb_proj', 'emb_layers.1'],
  ['norm2', 'out_layers.0'],
  ['conv2', 'out_layers.3'],
  ['conv_shortcut', 'skip_connection'],
];

const BASIC: [string, string][] = [
  ['conv_in.', 'input_blocks.0.0.'],
  ['conv_norm_out.', 'out.0.'],
  ['conv_out.', 'out.2.'],
  ['time_embedding.linear_1.', 'time_embed.0.'],
  ['time_embedding.linear_2.', 'time_embed.2.'],
  ['class_embedding.linear_1.', 'label_emb.0.0.'],
  ['class_embedding.linear_2.', 'label_emb.0.2.'],
  ['add_embedding.linear_1.', 'label_emb.0.0.'],
  ['add_embedding.linear_2.', 'label_emb.0.2.'],
];

function resnetPart(rest: string): string | undefined {
  for (const [from, to] of RESNET_PARTS) if (rest.startsWith(`${from}.`)) return `${to}${rest.slice(from.length)}`;
  return undefined;
}

export interface DiffusersUnetMapping {
  map: Map<string, WeightMapping>;
  unused: string[];
}

/** LDM canonical name → file tensor for a diffusers U-Net under `prefix`. */
export function diffusersUnetMapping(source: TensorSource, prefix = ''): DiffusersUnetMapping {
  const names: string[] = [];
  for (const n of source.tensors.keys()) if (n.startsWith(prefix)) names.push(n.slice(prefix.length));
  const down = countBlocks(names, (i) => `down_blocks.${i}.`);
  const up = countBlocks(names, (i) => `up_blocks.${i}.`);
  const downRes = Array.from({ length: down }, (_, x) => countBlocks(names, (i) => `down_blocks.${x}.resnets.${i}.`));
  const upRes = Array.from({ length: up }, (_, x) => countBlocks(names, (i) => `up_blocks.${x}.resnets.${i}.`));
  // First input block of each down level (input block 0 is conv_in) and first output block of each up level.
  const downStart: number[] = [];
  let n = 1;
  for (let x = 0; x < down; x++) {
    downStart.push(n);
    n += downRes[x] + 1;
  }
  const upStart: number[] = [];
  n = 0;
  for (let x = 0; x < up; x++) {
    upStart.push(n);
    n += upRes[x];
  }

  const ldmName = (name: string): string | undefined => {
    for (const [from, to] of BASIC) if (name.startsWith(from)) return `${to}${name.slice(from.length)}`;
    let m: RegExpExecArray | null;
    if ((m = /^down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name))) {
      const part = resnetPart(m[3]);
      return part && `input_blocks.${downStart[+m[1]] + +m[2]}.0.${part}`;
    }
    if ((m = /^down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/.exec(name))) return `input_blocks.${downStart[+m[1]] + +m[2]}.1.${m[3]}`;
    if ((m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/.exec(name))) return `input_blocks.${downStart[+m[1]] + downRes[+m[1]]}.0.op.${m[2]}`;
    if ((m = /^mid_block\.resnets\.([01])\.(.+)$/.exec(name))) {
      const part = resnetPart(m[2]);
      return part && `middle_block.${m[1] === '0' ? 0 : 2}.${part}`;
    }
    if ((m = /^mid_block\.attentions\.0\.(.+)$/.exec(name))) return `middle_block.1.${m[1]}`;
    if ((m = /^up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name))) {
      const part = resnetPart(m[3]);
      return part && `output_blocks.${upStart[+m[1]] + +m[2]}.0.${part}`;
    }
    if ((m = /^up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/.exec(name))) return `output_blocks.${upStart[+m[1]] + +m[2]}.1.${m[3]}`;
    if ((m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/.exec(name))) {
      const x = +m[1];
      const last = upRes[x] - 1;
      // The upsampler follows the level's last ResBlock and, if it has one, its attention.
      const slot = names.some((k) => k.startsWith(`up_blocks.${x}.attentions.${last}.`)) ? 2 : 1;
      return `output_blocks.${upStart[x] + last}.${slot}.conv.${m[2]}`;
    }
    return undefined;
  };

  const map = new Map<string, WeightMapping>();
  const unused: string[] = [];
  for (const name of names) {
    const raw = prefix + name;
    const to = ldmName(name);
    if (to === undefined || map.has(to)) unused.push(raw);
    else map.set(to, { raw, shape: [...source.tensors.get(raw)!.shape] });
  }
  return { map, unused };
}
