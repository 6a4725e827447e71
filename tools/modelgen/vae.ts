// Small VAE decoder/encoder pair with the SD ONNX interfaces:
// decoder latent_sample [B, 4, h, w] → sample [B, 3, 8h, 8w] in [-1, 1];
// encoder sample [B, 3, H, W] → latent_sample [B, 4, H/8, W/8] or latent_parameters [B, 8, H/8, W/8].
import { GraphBuilder, type BuiltModel } from '../../src/inference/onnx/graphBuilder';
import { Layers } from './layers';
import type { Prng } from './prng';
import type { ModelVariant, NetworkSizes } from './spec';

export const SD1_SCALING_FACTOR = 0.18215;

export function buildVaeDecoder(sizes: NetworkSizes, variant: ModelVariant, rng: Prng): BuiltModel {
  const g = new GraphBuilder('vae_decoder', variant.weights);
  const L = new Layers(g, rng);
  const io = variant.io;
  const z0 = g.input('latent_sample', io, ['batch_size', 4, 'latent_height', 'latent_width']);
  const z = io === 'float16' ? g.op('Cast', [z0], { to: { i: 1 } }, 'in_fp32') : z0;
  // Pipelines feed latents / scaling_factor (std ≈ 5.5); scale back to unit range first.
  const zs = g.op('Mul', [z, g.constF('post_quant_scale', [], [SD1_SCALING_FACTOR])], {}, 'post_quant');
  const [c0, c1, c2, c3] = sizes.vaeChannels;
  let h = L.conv(zs, 4, c0, 'conv_in');
  h = L.resBlock(h, c0, 'mid.0');
  const widths = [c0, c1, c2, c3];
  for (let i = 0; i < 3; i++) {
    const scales = g.constF(`up.${i}.scales`, [4], [1, 1, 2, 2]);
    h = g.op('Resize', [h, '', scales], { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'half_pixel' } }, `up.${i}.resize`);
    h = L.silu(L.conv(h, widths[i], widths[i + 1], `up.${i}.conv`));
  }
  // Small output gain keeps tanh out of saturation so images have mid-tones, not just ±1.
  const rgb = g.op('Tanh', [L.conv(L.silu(L.instanceNorm(h, c3, 'norm_out')), c3, 3, 'conv_out', { gain: 0.6 })], {}, 'rgb');
  g.output('sample', io === 'float16' ? g.op('Cast', [rgb], { to: { i: 10 } }, 'to_fp16') : rgb, io, ['batch_size', 3, 'height', 'width']);
  return g.build();
}

export function buildVaeEncoder(sizes: NetworkSizes, variant: ModelVariant, rng: Prng): BuiltModel {
  const g = new GraphBuilder('vae_encoder', variant.weights);
  const L = new Layers(g, rng);
  const io = variant.io;
  const C = sizes.vaeEncoderChannels;
  const x0 = g.input('sample', io, ['batch_size', 3, 'height', 'width']);
  let h = io === 'float16' ? g.op('Cast', [x0], { to: { i: 1 } }, 'in_fp32') : x0;
  h = L.silu(L.conv(h, 3, C, 'conv_in'));
  for (let i = 0; i < 3; i++) h = L.silu(L.conv(h, C, C, `down.${i}`, { stride: 2 }));
  h = L.resBlock(h, C, 'mid.0');
  // Mean is normalised then divided by the scaling factor, so that mean × 0.18215 (what
  // pipelines compute) is roughly unit-variance, like a real SD latent.
  const mean = g.op('Mul', [L.instanceNorm(L.conv(h, C, 4, 'conv_mean'), 4, 'mean_norm', false), g.constF('inv_scale', [], [1 / SD1_SCALING_FACTOR])], {}, 'mean');
  let out = mean;
  if (variant.vaeEncoderOutput === 'latent_parameters') {
    // logvar around -6: the sampled latent stays close to the mean, as with the real SD VAE.
    const logvar = g.op('Add', [L.conv(h, C, 4, 'conv_logvar', { gain: 0.2 }), g.constF('logvar_bias', [], [-6])], {}, 'logvar');
    out = g.op('Concat', [mean, logvar], { axis: { i: 1 } }, 'moments');
  }
  const channels = variant.vaeEncoderOutput === 'latent_parameters' ? 8 : 4;
  g.output(variant.vaeEncoderOutput, io === 'float16' ? g.op('Cast', [out], { to: { i: 10 } }, 'to_fp16') : out, io, ['batch_size', channels, 'latent_height', 'latent_width']);
  return g.build();
}
