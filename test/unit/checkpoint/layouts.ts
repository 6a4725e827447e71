// Key layouts for detection tests: the full SD1.5/SDXL key lists from the ComfyUI reference
// fixtures, and transformations of them into SD2 / OpenCLIP / diffusers layouts written here
// independently of the code under test.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const fixtures = path.resolve(__dirname, '../../fixtures/comfyui-reference');

export type Shapes = [string, number[]][];

export function sd15Shapes(): Shapes {
  const m = JSON.parse(readFileSync(path.join(fixtures, 'sd15/checkpoint-manifest.json'), 'utf8')) as { tensors: [string, number[]][] };
  return m.tensors.map(([n, s]) => [n, s]);
}

export function sdxlShapes(which: 'base' | 'refiner'): Shapes {
  const m = JSON.parse(readFileSync(path.join(fixtures, `sdxl/sdxl-${which}-keys.json`), 'utf8')) as { tensors: [string, number[]][] };
  return m.tensors.map(([n, s]) => [n, s]);
}

/** OpenCLIP text tower names as SD2 checkpoints store them (width 1024, 24 layers, mlp 4096). */
export function openClipShapes(prefix: string, width = 1024, layers = 24, mlp = 4 * width): Shapes {
  const out: Shapes = [
    [`${prefix}positional_embedding`, [77, width]],
    [`${prefix}token_embedding.weight`, [49408, width]],
    [`${prefix}ln_final.weight`, [width]],
    [`${prefix}ln_final.bias`, [width]],
    [`${prefix}text_projection`, [width, width]],
    [`${prefix}logit_scale`, []],
  ];
  for (let i = 0; i < layers; i++) {
    const p = `${prefix}transformer.resblocks.${i}.`;
    out.push(
      [`${p}ln_1.weight`, [width]], [`${p}ln_1.bias`, [width]], [`${p}ln_2.weight`, [width]], [`${p}ln_2.bias`, [width]],
      [`${p}attn.in_proj_weight`, [3 * width, width]], [`${p}attn.in_proj_bias`, [3 * width]],
      [`${p}attn.out_proj.weight`, [width, width]], [`${p}attn.out_proj.bias`, [width]],
      [`${p}mlp.c_fc.weight`, [mlp, width]], [`${p}mlp.c_fc.bias`, [mlp]],
      [`${p}mlp.c_proj.weight`, [width, mlp]], [`${p}mlp.c_proj.bias`, [width]],
    );
  }
  return out;
}

/** SD1.5's U-Net turned into SD2's: linear proj_in/proj_out and 1024-wide cross-attention. */
export function sd2UnetShapes(sd15: Shapes, inChannels = 4): Shapes {
  return sd15
    .filter(([n]) => n.startsWith('model.diffusion_model.'))
    .map(([n, s]): [string, number[]] => {
      if (/\.proj_(in|out)\.weight$/.test(n)) return [n, s.slice(0, 2)];
      if (/\.attn2\.to_[kv]\.weight$/.test(n)) return [n, [s[0], 1024]];
      if (n === 'model.diffusion_model.input_blocks.0.0.weight') return [n, [s[0], inChannels, 3, 3]];
      return [n, s];
    });
}

/** The SD VAE (ch 128, mult 1,2,4,4, 2 res blocks) in diffusers naming, built from the diffusers layout. */
export function diffusersVaeShapes(ch = 128, mult = [1, 2, 4, 4], z = 4): Shapes {
  const out: Shapes = [];
  const conv = (name: string, o: number, i: number, k = 3) => out.push([`${name}.weight`, [o, i, k, k]], [`${name}.bias`, [o]]);
  const norm = (name: string, c: number) => out.push([`${name}.weight`, [c]], [`${name}.bias`, [c]]);
  const resnet = (p: string, cin: number, cout: number) => {
    norm(`${p}.norm1`, cin);
    conv(`${p}.conv1`, cout, cin);
    norm(`${p}.norm2`, cout);
    conv(`${p}.conv2`, cout, cout);
    if (cin !== cout) conv(`${p}.conv_shortcut`, cout, cin, 1);
  };
  const mid = (p: string, c: number) => {
    resnet(`${p}.mid_block.resnets.0`, c, c);
    resnet(`${p}.mid_block.resnets.1`, c, c);
    norm(`${p}.mid_block.attentions.0.group_norm`, c);
    for (const q of ['to_q', 'to_k', 'to_v', 'to_out.0']) out.push([`${p}.mid_block.attentions.0.${q}.weight`, [c, c]], [`${p}.mid_block.attentions.0.${q}.bias`, [c]]);
  };
  conv('encoder.conv_in', ch, 3);
  let cin = ch;
  mult.forEach((m, i) => {
    const cout = ch * m;
    for (let j = 0; j < 2; j++) resnet(`encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? cin : cout, cout);
    if (i < mult.length - 1) conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, cout, cout);
    cin = cout;
  });
  mid('encoder', cin);
  norm('encoder.conv_norm_out', cin);
  conv('encoder.conv_out', 2 * z, cin);
  conv('quant_conv', 2 * z, 2 * z, 1);
  conv('post_quant_conv', z, z, 1);
  const top = ch * mult[mult.length - 1];
  conv('decoder.conv_in', top, z);
  mid('decoder', top);
  cin = top;
  [...mult].reverse().forEach((m, i) => {
    const cout = ch * m;
    for (let j = 0; j < 3; j++) resnet(`decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? cin : cout, cout);
    if (i < mult.length - 1) conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, cout, cout);
    cin = cout;
  });
  norm('decoder.conv_norm_out', ch);
  conv('decoder.conv_out', 3, ch);
  return out;
}

/** Shapes scaled down for a small file in the same key layout (GroupNorm's 32 groups still divide). */
export function scaledSd15(): Shapes {
  return sd15Shapes().map(([n, s]): [string, number[]] => {
    if (n.startsWith('model.diffusion_model.')) return [n, s.map((d) => (d % 320 === 0 ? d / 10 : d === 768 ? 64 : d))];
    if (n.startsWith('cond_stage_model.')) return [n, s.map((d) => (d % 768 === 0 ? d / 12 : d === 49408 ? 1000 : d))];
    return [n, s.map((d) => (d === 128 || d === 256 || d === 512 ? d / 4 : d))];
  });
}

/**
 * SD1.5's U-Net in diffusers naming (UNet2DConditionModel: block_out_channels 320,640,1280,1280,
 * 2 layers per block, cross-attention in the first three levels), built from the diffusers layout.
 */
export function diffusersSd15UnetShapes(inChannels = 4): Shapes {
  const out: Shapes = [];
  const mults = [1, 2, 4, 4];
  const mc = 320;
  const temb = 4 * mc;
  const ctx = 768;
  const lin = (name: string, o: number, i: number, bias = true) => {
    out.push([`${name}.weight`, [o, i]]);
    if (bias) out.push([`${name}.bias`, [o]]);
  };
  const conv = (name: string, o: number, i: number, k = 3) => out.push([`${name}.weight`, [o, i, k, k]], [`${name}.bias`, [o]]);
  const norm = (name: string, c: number) => out.push([`${name}.weight`, [c]], [`${name}.bias`, [c]]);
  const resnet = (p: string, cin: number, cout: number) => {
    norm(`${p}.norm1`, cin);
    conv(`${p}.conv1`, cout, cin);
    lin(`${p}.time_emb_proj`, cout, temb);
    norm(`${p}.norm2`, cout);
    conv(`${p}.conv2`, cout, cout);
    if (cin !== cout) conv(`${p}.conv_shortcut`, cout, cin, 1);
  };
  const attention = (p: string, c: number) => {
    norm(`${p}.norm`, c);
    conv(`${p}.proj_in`, c, c, 1);
    const t = `${p}.transformer_blocks.0`;
    for (const a of ['attn1', 'attn2']) {
      lin(`${t}.${a}.to_q`, c, c, false);
      lin(`${t}.${a}.to_k`, c, a === 'attn1' ? c : ctx, false);
      lin(`${t}.${a}.to_v`, c, a === 'attn1' ? c : ctx, false);
      lin(`${t}.${a}.to_out.0`, c, c);
    }
    norm(`${t}.norm1`, c);
    norm(`${t}.norm2`, c);
    norm(`${t}.norm3`, c);
    lin(`${t}.ff.net.0.proj`, 8 * c, c);
    lin(`${t}.ff.net.2`, c, 4 * c);
    conv(`${p}.proj_out`, c, c, 1);
  };
  conv('conv_in', mc, inChannels);
  lin('time_embedding.linear_1', temb, mc);
  lin('time_embedding.linear_2', temb, temb);
  const skips = [mc];
  let ch = mc;
  mults.forEach((m, x) => {
    const cout = mc * m;
    for (let i = 0; i < 2; i++) {
      resnet(`down_blocks.${x}.resnets.${i}`, ch, cout);
      ch = cout;
      if (x < 3) attention(`down_blocks.${x}.attentions.${i}`, ch);
      skips.push(ch);
    }
    if (x < 3) {
      conv(`down_blocks.${x}.downsamplers.0.conv`, ch, ch);
      skips.push(ch);
    }
  });
  resnet('mid_block.resnets.0', ch, ch);
  attention('mid_block.attentions.0', ch);
  resnet('mid_block.resnets.1', ch, ch);
  [...mults].reverse().forEach((m, x) => {
    const cout = mc * m;
    for (let i = 0; i < 3; i++) {
      resnet(`up_blocks.${x}.resnets.${i}`, ch + skips.pop()!, cout);
      ch = cout;
      if (x > 0) attention(`up_blocks.${x}.attentions.${i}`, ch);
    }
    if (x < 3) conv(`up_blocks.${x}.upsamplers.0.conv`, ch, ch);
  });
  norm('conv_norm_out', mc);
  conv('conv_out', 4, mc);
  return out;
}
