// The KL autoencoder (ComfyUI's comfy/ldm/modules/diffusionmodules/model.py Encoder/Decoder and
// ldm AutoencoderKL) as two ONNX graphs with the optimum interface:
//   vae_decoder: latent_sample [B, z, h, w] (VAE latent space) → post_quant_conv → Decoder → sample [B, 3, 8h, 8w]
//   vae_encoder: sample [B, 3, H, W] → Encoder → quant_conv → latent_sample = posterior mean [B, z, H/8, W/8]
import * as nn from '../../onnx/nn';
import type { GraphBuilder } from '../../onnx/graphBuilder';
import { writeStreamedModel } from '../../onnx/writeModel';
import { add, convW, groupNormW, weightType } from './blocks';
import type { BuildOptions, VaeConfig, WeightSource } from './types';
import { WeightReader } from './weights';

const EPS = 1e-6;

function vaeBlocks(g: GraphBuilder, r: WeightReader) {
  const resnet = async (x: string, prefix: string, cin: number, cout: number): Promise<string> => {
    let h = nn.silu(g, await groupNormW(r, x, `${prefix}.norm1`, cin, EPS));
    h = await convW(r, h, `${prefix}.conv1`, cin, cout, { kernel: 3 });
    h = nn.silu(g, await groupNormW(r, h, `${prefix}.norm2`, cout, EPS));
    h = await convW(r, h, `${prefix}.conv2`, cout, cout, { kernel: 3 });
    const skip = cin === cout ? x : await convW(r, x, `${prefix}.nin_shortcut`, cin, cout, { kernel: 1 });
    return add(r, skip, h, `${prefix}.out`);
  };
  // Single-head attention over the H·W positions, scale C^−½ (AttnBlock).
  const attnBlock = async (x: string, prefix: string, c: number): Promise<string> => {
    const n = await groupNormW(r, x, `${prefix}.norm`, c, EPS);
    const tokens = (t: string) => g.op('Transpose', [g.op('Reshape', [t, g.constI64(`${prefix}.flat`, [0, c, -1])])], { perm: { ints: [0, 2, 1] } }, `${prefix}.tokens`);
    const q = tokens(await convW(r, n, `${prefix}.q`, c, c, { kernel: 1 }));
    const k = tokens(await convW(r, n, `${prefix}.k`, c, c, { kernel: 1 }));
    const v = tokens(await convW(r, n, `${prefix}.v`, c, c, { kernel: 1 }));
    const o = nn.attention(g, q, k, v, 1, c, { hint: prefix });
    const map = g.op('Reshape', [g.op('Transpose', [o], { perm: { ints: [0, 2, 1] } }), g.op('Shape', [x])], {}, `${prefix}.map`);
    return add(r, x, await convW(r, map, `${prefix}.proj_out`, c, c, { kernel: 1 }), `${prefix}.out`);
  };
  return { resnet, attnBlock };
}

export async function writeVaeDecoderOnnx(outFile: string, cfg: VaeConfig, w: WeightSource, opts: BuildOptions): Promise<void> {
  await writeStreamedModel(outFile, 'vae_decoder', weightType(opts.precision), async (g) => {
    const r = new WeightReader(g, w, 'VAE decoder', opts.onProgress);
    const { resnet, attnBlock } = vaeBlocks(g, r);
    const z = g.input('latent_sample', 'float32', ['batch_size', cfg.zChannels, 'latent_height', 'latent_width']);
    const levels = cfg.chMult.length;
    let ch = cfg.ch * cfg.chMult[levels - 1];
    let h = await convW(r, z, 'post_quant_conv', cfg.zChannels, cfg.zChannels, { kernel: 1 });
    h = await convW(r, h, 'decoder.conv_in', cfg.zChannels, ch, { kernel: 3 });
    h = await resnet(h, 'decoder.mid.block_1', ch, ch);
    h = await attnBlock(h, 'decoder.mid.attn_1', ch);
    h = await resnet(h, 'decoder.mid.block_2', ch, ch);
    for (let level = levels - 1; level >= 0; level--) {
      const cout = cfg.ch * cfg.chMult[level];
      for (let j = 0; j <= cfg.numResBlocks; j++) {
        h = await resnet(h, `decoder.up.${level}.block.${j}`, ch, cout);
        ch = cout;
      }
      if (level !== 0) h = await convW(r, nn.upsample2x(g, h, `decoder.up.${level}.upsample`), `decoder.up.${level}.upsample.conv`, ch, ch, { kernel: 3 });
    }
    h = nn.silu(g, await groupNormW(r, h, 'decoder.norm_out', ch, EPS));
    h = await convW(r, h, 'decoder.conv_out', ch, cfg.outCh, { kernel: 3 });
    g.output('sample', h, 'float32', ['batch_size', cfg.outCh, 'height', 'width']);
    r.finish();
  });
}

export async function writeVaeEncoderOnnx(outFile: string, cfg: VaeConfig, w: WeightSource, opts: BuildOptions): Promise<void> {
  await writeStreamedModel(outFile, 'vae_encoder', weightType(opts.precision), async (g) => {
    const r = new WeightReader(g, w, 'VAE encoder', opts.onProgress);
    const { resnet, attnBlock } = vaeBlocks(g, r);
    const x = g.input('sample', 'float32', ['batch_size', cfg.inChannels, 'height', 'width']);
    const levels = cfg.chMult.length;
    let h = await convW(r, x, 'encoder.conv_in', cfg.inChannels, cfg.ch, { kernel: 3 });
    let ch = cfg.ch;
    for (let level = 0; level < levels; level++) {
      const cout = cfg.ch * cfg.chMult[level];
      for (let j = 0; j < cfg.numResBlocks; j++) {
        h = await resnet(h, `encoder.down.${level}.block.${j}`, ch, cout);
        ch = cout;
      }
      // Downsample pads right and bottom by one, then a stride-2 3×3 conv without padding.
      if (level !== levels - 1) h = await convW(r, h, `encoder.down.${level}.downsample.conv`, ch, ch, { kernel: 3, stride: 2, pads: [0, 0, 1, 1] });
    }
    h = await resnet(h, 'encoder.mid.block_1', ch, ch);
    h = await attnBlock(h, 'encoder.mid.attn_1', ch);
    h = await resnet(h, 'encoder.mid.block_2', ch, ch);
    h = nn.silu(g, await groupNormW(r, h, 'encoder.norm_out', ch, EPS));
    h = await convW(r, h, 'encoder.conv_out', ch, 2 * cfg.zChannels, { kernel: 3 });
    const moments = await convW(r, h, 'quant_conv', 2 * cfg.zChannels, 2 * cfg.zChannels, { kernel: 1 });
    // The posterior's mean: ComfyUI's VAEEncode takes the mode, not a sample.
    const mean = g.op('Slice', [moments, g.constI64('mean_start', [0]), g.constI64('mean_end', [cfg.zChannels]), g.constI64('mean_axis', [1])], {}, 'mean');
    g.output('latent_sample', mean, 'float32', ['batch_size', cfg.zChannels, 'latent_height', 'latent_width']);
    r.finish();
  });
}
