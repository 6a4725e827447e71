// A two-level conditional U-Net with the SD1.x ONNX interface:
// sample [B, 4|9, h, w], timestep, encoder_hidden_states [B, S, D] → out_sample [B, 4, h, w].
import { GraphBuilder, type BuiltModel, type Dim } from '../../src/inference/onnx/graphBuilder';
import { Layers } from './layers';
import type { Prng } from './prng';
import type { ModelVariant, NetworkSizes } from './spec';

const LATENT_CHANNELS = 4;

function timestepInput(g: GraphBuilder, variant: ModelVariant): string {
  switch (variant.timestep) {
    case 'float32-scalar':
      return g.input('timestep', 'float32', []);
    case 'float32-vector':
      return g.input('timestep', 'float32', ['steps']);
    case 'int64-vector':
      return g.op('Cast', [g.input('timestep', 'int64', ['steps'])], { to: { i: 1 } }, 't_float');
    case 'float16-vector':
      return g.op('Cast', [g.input('timestep', 'float16', ['steps'])], { to: { i: 1 } }, 't_float');
  }
}

export function buildUnet(sizes: NetworkSizes, variant: ModelVariant, rng: Prng, externalData?: string): BuiltModel {
  const g = new GraphBuilder('unet', variant.weights);
  const L = new Layers(g, rng);
  const C = sizes.unetChannels;
  const C2 = C * 2;
  const D = sizes.hidden;
  const io = variant.io;
  const toF32 = (x: string) => (io === 'float16' ? g.op('Cast', [x], { to: { i: 1 } }, 'in_fp32') : x);

  const sampleDims: Dim[] = ['batch_size', variant.unetInChannels, 'height', 'width'];
  const sample = toF32(g.input('sample', io, sampleDims));
  const t = timestepInput(g, variant);
  const ehs = toF32(g.input('encoder_hidden_states', io, ['batch_size', 'sequence_length', D]));

  // Sinusoidal timestep embedding → MLP, as in diffusers' Timesteps + TimestepEmbedding.
  // A scalar timestep reshapes to [1, 1] and then broadcasts over the batch.
  const half = sizes.timeFreqs / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const arg = g.op('Mul', [g.op('Reshape', [t, g.constI64('t_shape', [-1, 1])]), g.constF('t_freqs', [1, half], freqs)], {}, 't_arg');
  const sinusoid = g.op('Concat', [g.op('Cos', [arg]), g.op('Sin', [arg])], { axis: { i: 1 } }, 't_sinusoid');
  const temb = L.linear(L.silu(L.linear(sinusoid, sizes.timeFreqs, C, 'time_embedding.linear_1')), C, C, 'time_embedding.linear_2');
  const tembAct = L.silu(temb);
  const axes23 = g.constI64('axes_23', [2, 3]);
  const tembFor = (channels: number, name: string) => g.op('Unsqueeze', [L.linear(tembAct, C, channels, name), axes23], {}, `${name}_4d`);

  // Down path at full and half resolution.
  const h0 = L.conv(sample, variant.unetInChannels, C, 'conv_in');
  const h1 = L.resBlock(h0, C, 'down.0', tembFor(C, 'down.0.time_emb_proj'));
  let d = L.conv(h1, C, C2, 'down.0.downsample', { stride: 2 });
  d = L.resBlock(d, C2, 'mid.0', tembFor(C2, 'mid.0.time_emb_proj'));

  // Cross-attention: queries from latent pixels, keys/values from the text conditioning.
  const tokens = g.op('Transpose', [g.op('Reshape', [d, g.constI64('flat_hw', [0, 0, -1])])], { perm: { ints: [0, 2, 1] } }, 'pixels');
  const attn = L.attention(L.layerNorm(tokens, C2, 'mid.attn.norm'), ehs, { qDim: C2, kvDim: D, inner: sizes.unetInner, outDim: C2 }, 'mid.attn');
  const attnMap = g.op('Reshape', [g.op('Transpose', [attn], { perm: { ints: [0, 2, 1] } }), g.op('Shape', [d])], {}, 'attn_map');
  d = g.op('Add', [d, attnMap], {}, 'mid_attn_res');
  d = L.resBlock(d, C2, 'mid.1', tembFor(C2, 'mid.1.time_emb_proj'));

  // Up path: resize back to the exact skip size (odd latent sizes survive), concat, fuse.
  const upSize = g.op('Concat', [L.shapeSlice(d, 0, 2), L.shapeSlice(h1, 2, 4)], { axis: { i: 0 } }, 'up_size');
  const up = g.op('Resize', [d, '', '', upSize], { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } }, 'upsample');
  let u = L.conv(g.op('Concat', [L.conv(up, C2, C, 'up.0.conv'), h1], { axis: { i: 1 } }, 'skip_concat'), C * 2, C, 'up.0.fuse');
  u = L.resBlock(u, C, 'up.1', tembFor(C, 'up.1.time_emb_proj'));
  const net = L.instanceNorm(L.conv(L.silu(L.instanceNorm(u, C, 'conv_norm_out')), C, LATENT_CHANNELS, 'conv_out'), LATENT_CHANNELS, 'net_norm', false);

  // Output = normalise(a·x + b·net): a noise prediction that partly follows the (noisy) input
  // keeps sampling numerically tame, and the final normalisation keeps it unit-variance.
  const x4 = variant.unetInChannels === LATENT_CHANNELS ? sample : g.op('Slice', [sample, g.constI64('s_start', [0]), g.constI64('s_end', [LATENT_CHANNELS]), g.constI64('s_axis', [1])], {}, 'latent_part');
  const mixed = g.op('Add', [g.op('Mul', [x4, g.constF('mix_a', [], [0.8])]), g.op('Mul', [net, g.constF('mix_b', [], [0.6])])], {}, 'mix');
  const out = L.instanceNorm(mixed, LATENT_CHANNELS, 'out_norm', false);
  g.output('out_sample', io === 'float16' ? g.op('Cast', [out], { to: { i: 10 } }, 'to_fp16') : out, io, ['batch_size', LATENT_CHANNELS, 'height', 'width']);
  return g.build(externalData ? { fileName: externalData } : undefined);
}
