import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointError, detectCheckpoint, detectFromSource, sourceOfShapes, type DetectedCheckpoint } from '../../../src/inference/checkpoint/detect';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { writeSafetensors, type TensorToWrite } from '../../../src/inference/safetensors/write';
import { float32ToFloat16 } from '../../../src/inference/ort/float16';
import { diffusersSd15UnetShapes, diffusersVaeShapes, openClipShapes, scaledSd15, sd15Shapes, sd2UnetShapes, sdxlShapes, type Shapes } from './layouts';

const SD15_UNET = {
  inChannels: 4, outChannels: 4, modelChannels: 320, channelMult: [1, 2, 4, 4], numResBlocks: [2, 2, 2, 2],
  transformerDepth: [1, 1, 1, 1, 1, 1, 0, 0], transformerDepthMiddle: 1, transformerDepthOutput: [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
  contextDim: 768, useLinearInTransformer: false, numHeads: 8, numHeadChannels: -1,
};

function detectShapes(shapes: Shapes, opts: { role?: 'checkpoint' | 'vae' | 'unet' | 'clip'; values?: (n: string) => Float32Array; file?: string } = {}): DetectedCheckpoint {
  return detectFromSource(sourceOfShapes(opts.file ?? 'model.safetensors', shapes, opts.values), { role: opts.role });
}

function throwsCheckpointError(fn: () => unknown, pattern: RegExp, file = 'model.safetensors'): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, String(e));
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, pattern);
    return true;
  });
}

describe('checkpoint detection', () => {
  describe('from the full key lists of real checkpoints', () => {
    it('SD1.5 (all 1,130 tensors): ComfyUI SD15 config, CLIP-L, the SD VAE, nothing ignored', () => {
      const d = detectShapes(sd15Shapes());
      assert.equal(d.family, 'sd1');
      assert.equal(d.prediction, 'eps');
      assert.deepEqual(d.unet!.config, SD15_UNET);
      assert.deepEqual(d.clip!.config, {
        kind: 'clip-l', hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, vocabSize: 49408, maxPositions: 77,
        activation: 'quick_gelu', eosTokenId: 49407, padTokenId: 49407,
      });
      assert.deepEqual(d.vae!.config, { zChannels: 4, ch: 128, chMult: [1, 2, 4, 4], numResBlocks: 2, inChannels: 3, outCh: 3, scalingFactor: 0.18215 });
      assert.deepEqual(d.ignored, []);
      assert.equal(d.unet!.weights.names().length + d.clip!.weights.names().length + d.vae!.weights.names().length, 1130);
      // Canonical names, prefix stripped.
      assert.deepEqual(d.unet!.weights.shape('input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight'), [320, 320]);
      assert.deepEqual(d.unet!.weights.shape('input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight'), [320, 768]);
      assert.ok(d.unet!.weights.has('time_embed.0.weight') && d.unet!.weights.has('out.2.bias'));
      assert.deepEqual(d.clip!.weights.shape('text_model.encoder.layers.0.self_attn.q_proj.weight'), [768, 768]);
      assert.ok(d.clip!.weights.has('text_model.final_layer_norm.weight'));
      assert.deepEqual(d.vae!.weights.shape('decoder.mid.attn_1.q.weight'), [512, 512, 1, 1]);
      assert.ok(d.vae!.weights.has('quant_conv.weight') && d.vae!.weights.has('post_quant_conv.bias'));
    });

    it('SD1.5 with ema weights, position_ids (I64 or F32), schedule buffers and CLIP without text_model.', () => {
      const shapes = sd15Shapes()
        .map(([n, s]): [string, number[]] => [n.replace('cond_stage_model.transformer.text_model.', 'cond_stage_model.transformer.'), s])
        .concat([
          ['cond_stage_model.transformer.embeddings.position_ids', [1, 77]],
          ['model_ema.decay', []],
          ['model_ema.num_updates', []],
          ['model_ema.diffusion_modelinput_blocks00weight', [320, 4, 3, 3]],
          ['alphas_cumprod', [1000]],
          ['cond_stage_model.transformer.text_projection.weight', [768, 768]],
        ]);
      const d = detectShapes(shapes);
      assert.equal(d.family, 'sd1');
      assert.deepEqual(d.ignored, ['alphas_cumprod', 'cond_stage_model.transformer.embeddings.position_ids', 'model_ema.decay', 'model_ema.diffusion_modelinput_blocks00weight', 'model_ema.num_updates']);
      assert.ok(d.clip!.weights.has('text_model.encoder.layers.11.mlp.fc2.weight'));
      assert.equal(d.clip!.config.projectionDim, 768);
      assert.deepEqual(d.clip!.weights.shape('text_projection.weight'), [768, 768]);
    });

    it('SD1.5 inpainting: 9 input channels, still eps', () => {
      const shapes = sd15Shapes().map(([n, s]): [string, number[]] => [n, n === 'model.diffusion_model.input_blocks.0.0.weight' ? [320, 9, 3, 3] : s]);
      const d = detectShapes(shapes);
      assert.equal(d.family, 'sd1');
      assert.equal(d.unet!.config.inChannels, 9);
      assert.equal(d.unet!.config.outChannels, 4);
    });

    it('SDXL base and refiner: U-Net, both text encoders as ComfyUI reads them, SDXL VAE', () => {
      const base = detectShapes(sdxlShapes('base'), { file: 'sdxl.safetensors' });
      assert.equal(base.family, 'sdxl');
      assert.deepEqual(base.unet!.config.transformerDepth, [0, 0, 2, 2, 10, 10]);
      assert.deepEqual(base.unet!.config.channelMult, [1, 2, 4]);
      assert.equal(base.unet!.config.contextDim, 2048);
      assert.equal(base.unet!.config.admInChannels, 2816);
      assert.equal(base.unet!.config.admTimeValues, 6);
      assert.equal(base.unet!.config.transformerDepthMiddle, 10);
      assert.equal(base.unet!.config.numHeadChannels, 64);
      assert.equal(base.vae!.config.scalingFactor, 0.13025);
      assert.equal(base.clip!.config.kind, 'clip-l');
      assert.equal(base.clip!.config.numLayers, 12);
      assert.equal(base.clipG!.config.kind, 'open-clip-g');
      assert.equal(base.clipG!.config.numLayers, 32);
      assert.equal(base.clipG!.config.activation, 'gelu');
      assert.equal(base.clipG!.config.projectionDim, 1280);
      assert.deepEqual(base.clipG!.weights.shape('text_model.encoder.layers.31.self_attn.v_proj.weight'), [1280, 1280]);
      assert.deepEqual(base.clipG!.weights.shape('text_projection.weight'), [1280, 1280]);
      // Everything but CLIP-L's position_ids and OpenCLIP's logit_scale is used.
      assert.deepEqual(base.ignored, ['conditioner.embedders.0.transformer.text_model.embeddings.position_ids', 'conditioner.embedders.1.model.logit_scale']);

      const refiner = detectShapes(sdxlShapes('refiner'), { file: 'refiner.safetensors' });
      assert.equal(refiner.family, 'sdxl_refiner');
      assert.equal(refiner.unet!.config.modelChannels, 384);
      assert.equal(refiner.unet!.config.admInChannels, 2560);
      assert.equal(refiner.unet!.config.admTimeValues, 5);
      assert.equal(refiner.clip, undefined);
      assert.equal(refiner.clipG!.config.hiddenSize, 1280);
      assert.deepEqual(refiner.ignored, ['conditioner.embedders.0.model.logit_scale']);
    });

    it('SDXL with a missing or mismatched text encoder: one line naming the file', () => {
      const noG = sdxlShapes('base').filter(([n]) => !n.startsWith('conditioner.embedders.1.'));
      throwsCheckpointError(() => detectShapes(noG, { file: 'nog.safetensors' }), /SDXL base checkpoint with CLIP-L but no OpenCLIP-G text encoder/, 'nog.safetensors');
      const narrow = sdxlShapes('base').map(([n, s]): [string, number[]] => [n, n.endsWith('attn2.to_k.weight') || n.endsWith('attn2.to_v.weight') ? [s[0], 1024] : s]);
      throwsCheckpointError(() => detectShapes(narrow, { file: 'narrow.safetensors' }), /has a U-Net Marble does not know|1024-wide conditioning/, 'narrow.safetensors');
    });
  });

  describe('SD2', () => {
    const sd15 = sd15Shapes();
    const vae = sd15.filter(([n]) => n.startsWith('first_stage_model.'));
    const sd2 = (inChannels = 4) => [...sd2UnetShapes(sd15, inChannels), ...openClipShapes('cond_stage_model.model.'), ...vae];
    const statisticKey = 'model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias';
    // A bias with population std exactly `std` (half the values +std, half −std).
    const withStd = (std: number) => (name: string) => {
      assert.equal(name, statisticKey, 'only the statistic is read during detection');
      return Float32Array.from({ length: 320 }, (_, i) => (i % 2 ? std : -std));
    };

    it('OpenCLIP-H mapped to HF names, linear proj_in, 64-channel heads; v-prediction by ComfyUI\'s std > 0.09 rule', () => {
      const v = detectShapes(sd2(), { values: withStd(0.1) });
      assert.equal(v.family, 'sd2');
      assert.equal(v.prediction, 'v_prediction');
      assert.equal(v.unet!.config.useLinearInTransformer, true);
      assert.equal(v.unet!.config.contextDim, 1024);
      assert.equal(v.unet!.config.numHeads, -1);
      assert.equal(v.unet!.config.numHeadChannels, 64);
      assert.deepEqual(v.clip!.config, {
        kind: 'open-clip-h', hiddenSize: 1024, numLayers: 24, numHeads: 16, intermediateSize: 4096, vocabSize: 49408, maxPositions: 77,
        activation: 'gelu', projectionDim: 1024, eosTokenId: 49407, padTokenId: 0,
      });
      const w = v.clip!.weights;
      assert.deepEqual(w.shape('text_model.encoder.layers.23.self_attn.v_proj.weight'), [1024, 1024]);
      assert.deepEqual(w.shape('text_model.encoder.layers.0.self_attn.q_proj.bias'), [1024]);
      assert.ok(w.has('text_model.embeddings.position_embedding.weight') && w.has('text_model.final_layer_norm.bias') && w.has('text_model.encoder.layers.5.mlp.fc1.weight'));
      assert.deepEqual(v.ignored, ['cond_stage_model.model.logit_scale']);

      assert.equal(detectShapes(sd2(), { values: withStd(0.08) }).prediction, 'eps');
      assert.equal(detectShapes(sd2(), { values: withStd(0.09) }).prediction, 'eps', 'strictly greater');
    });

    it('SD2 inpainting (9 channels) is eps without reading the statistic, as ComfyUI decides', () => {
      const d = detectShapes(sd2(9), { values: () => assert.fail('no values are read for inpainting models') });
      assert.equal(d.family, 'sd2');
      assert.equal(d.prediction, 'eps');
    });

    it('SD2 in sgm format (conditioner.embedders.0.model.)', () => {
      const shapes = [...sd2UnetShapes(sd15), ...openClipShapes('conditioner.embedders.0.model.'), ...vae];
      const d = detectShapes(shapes, { values: withStd(0.2) });
      assert.equal(d.family, 'sd2');
      assert.equal(d.clip!.config.kind, 'open-clip-h');
    });

    it('a U-Net and text encoder that disagree on the conditioning width are refused', () => {
      const shapes = [...sd2UnetShapes(sd15), ...sd15.filter(([n]) => n.startsWith('cond_stage_model.')), ...vae];
      throwsCheckpointError(() => detectShapes(shapes, { values: withStd(0.2) }), /U-Net takes 1024-wide conditioning but its text encoder \(clip-l\) gives 768/);
    });
  });

  describe('standalone files and roles', () => {
    const sd15 = sd15Shapes();
    const strip = (prefix: string) => sd15.filter(([n]) => n.startsWith(prefix)).map(([n, s]): [string, number[]] => [n.slice(prefix.length), s]);

    it('VAE: LDM names and diffusers names give the same canonical weights', () => {
      const ldm = detectShapes(strip('first_stage_model.'), { role: 'vae', file: 'vae.safetensors' });
      const diff = detectShapes(diffusersVaeShapes(), { role: 'vae', file: 'vae.safetensors' });
      assert.deepEqual(diff.vae!.config, ldm.vae!.config);
      const a = new Map(ldm.vae!.weights.names().map((n) => [n, ldm.vae!.weights.shape(n)]));
      const b = new Map(diff.vae!.weights.names().map((n) => [n, diff.vae!.weights.shape(n)]));
      assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
      for (const [n, s] of a) assert.deepEqual(b.get(n), s, n);
      assert.equal(ldm.unet, undefined);
      assert.equal(ldm.clip, undefined);
      assert.deepEqual(diff.ignored, []);
    });

    it('U-Net: bare LDM names or under model.diffusion_model.; a full checkpoint also loads as a U-Net', () => {
      const bare = detectShapes(strip('model.diffusion_model.'), { role: 'unet' });
      assert.deepEqual(bare.unet!.config, SD15_UNET);
      const prefixed = detectShapes(sd15.filter(([n]) => n.startsWith('model.diffusion_model.')), { role: 'unet' });
      assert.deepEqual(prefixed.unet!.config, SD15_UNET);
      const full = detectShapes(sd15, { role: 'unet' });
      assert.equal(full.vae, undefined);
      assert.equal(full.ignored.length, 1130 - 686);
    });

    it('U-Net in diffusers naming maps to exactly the LDM names and shapes of SD1.5\'s U-Net', () => {
      const d = detectShapes(diffusersSd15UnetShapes(), { role: 'unet' });
      assert.equal(d.family, 'sd1');
      assert.deepEqual(d.unet!.config, SD15_UNET);
      assert.deepEqual(d.ignored, []);
      const ldm = new Map(strip('model.diffusion_model.'));
      const got = new Map(d.unet!.weights.names().map((n) => [n, d.unet!.weights.shape(n)]));
      assert.deepEqual([...got.keys()].sort(), [...ldm.keys()].sort());
      for (const [n, shape] of ldm) assert.deepEqual(got.get(n), shape, n);
      assert.equal(d.unet!.weights.names().length, 686);
      const inpaint = detectShapes(diffusersSd15UnetShapes(9), { role: 'unet' });
      assert.equal(inpaint.unet!.config.inChannels, 9);
    });

    it('CLIP: bare HF names (text_model.*) and OpenCLIP names; family follows the encoder', () => {
      const l = detectShapes(strip('cond_stage_model.transformer.'), { role: 'clip' });
      assert.equal(l.clip!.config.kind, 'clip-l');
      assert.equal(l.family, 'sd1');
      const h = detectShapes(openClipShapes(''), { role: 'clip' });
      assert.equal(h.clip!.config.kind, 'open-clip-h');
      assert.equal(h.family, 'sd2');
    });

    it('a file of the wrong kind says what it is and where it belongs', () => {
      throwsCheckpointError(() => detectShapes(strip('first_stage_model.'), { file: 'vae.safetensors' }), /is a VAE \(248 tensors: .*\), not a Stable Diffusion checkpoint .*; put it in models\/vae\/ and load it with Load VAE/, 'vae.safetensors');
      throwsCheckpointError(() => detectShapes(strip('cond_stage_model.transformer.')), /is a text encoder .*load it with Load CLIP/);
      throwsCheckpointError(() => detectShapes(strip('model.diffusion_model.')), /is a U-Net .*Load Diffusion Model \(UNETLoader\)/);
      throwsCheckpointError(() => detectShapes(sd15, { role: 'vae' }), /is a full checkpoint .*not a VAE.*Load Checkpoint/);
      throwsCheckpointError(() => detectShapes(sd15, { role: 'clip' }), /is a full checkpoint .*not a CLIP text encoder/);
    });

    it('an unknown layout lists the prefixes it found', () => {
      const lora = [['lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', [4, 320]], ['lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', [320, 4]], ['lora_te_text_model_encoder_layers_0_mlp_fc1.alpha', []]] as Shapes;
      throwsCheckpointError(() => detectShapes(lora), /is an unknown layout \(3 tensors: lora_unet_down_blocks_0_attentions_0_proj_in\.lora_down\.\* \(1\)/);
      throwsCheckpointError(() => detectShapes([]), /holds no tensors/);
      const unet = sd15.filter(([n]) => n.startsWith('model.diffusion_model.') && !n.includes('time_embed.2'));
      throwsCheckpointError(() => detectShapes(unet, { role: 'unet' }), /U-Net is incomplete: no 'model\.diffusion_model\.time_embed\.2\.weight'/);
      throwsCheckpointError(() => detectShapes(diffusersSd15UnetShapes()), /is a diffusers-format U-Net .*Load Diffusion Model \(UNETLoader\)/);
    });
  });

  describe('from a real file written in the reference layout (small sizes)', function () {
    // Writes a ~30 MB file on a shared 2-core machine.
    this.timeout(60_000);
    let dir: string;
    before(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'marble-detect-'));
    });
    after(async () => {
      await fsp.rm(dir, { recursive: true, force: true });
    });

    // value_i = a small function of (tensor index, element index), so reads can be checked exactly.
    const valueOf = (t: number, i: number) => ((t * 7 + i) % 251) / 256 - 0.5;

    async function writeFile(file: string, shapes: Shapes, dtype: 'F16' | 'F32'): Promise<void> {
      const tensors: TensorToWrite[] = shapes.map(([name, shape], t) => ({
        name, dtype, shape,
        data: () => {
          const n = shape.reduce((a, d) => a * d, 1);
          const f = Float32Array.from({ length: n }, (_, i) => valueOf(t, i));
          return dtype === 'F32' ? new Uint8Array(f.buffer) : new Uint8Array(float32ToFloat16(f).buffer);
        },
      }));
      await writeSafetensors(file, tensors);
    }

    it('detects a small SD1-layout checkpoint and reads canonical weights through the file', async () => {
      const shapes = scaledSd15();
      const file = path.join(dir, 'small-sd15.safetensors');
      await writeFile(file, shapes, 'F16');
      const st = await SafetensorsFile.open(file);
      try {
        const d = detectCheckpoint(st);
        assert.equal(d.file, file);
        assert.equal(d.family, 'sd1');
        assert.equal(d.unet!.config.modelChannels, 32);
        assert.equal(d.unet!.config.contextDim, 64);
        assert.deepEqual(d.unet!.config.channelMult, [1, 2, 4, 4]);
        assert.equal(d.clip!.config.hiddenSize, 64);
        assert.equal(d.clip!.config.numHeads, 1);
        assert.equal(d.clip!.config.kind, 'clip-l');
        assert.equal(d.vae!.config.ch, 32);
        const index = new Map(shapes.map(([n], t) => [n, t]));
        const t = index.get('model.diffusion_model.out.2.bias')!;
        const got = await d.unet!.weights.float32('out.2.bias');
        const want = float32ToFloat16(Float32Array.from({ length: 4 }, (_, i) => valueOf(t, i)));
        assert.deepEqual([...float32ToFloat16(got)], [...want]);
        const q = await d.clip!.weights.float32('text_model.encoder.layers.3.self_attn.q_proj.weight');
        assert.equal(q.length, 64 * 64);
      } finally {
        await st.close();
      }
    });

    it('splits a fused OpenCLIP in_proj into q/k/v rows and transposes text_projection, read from the file', async () => {
      const width = 64;
      const shapes = openClipShapes('', width, 2, 128);
      const file = path.join(dir, 'openclip.safetensors');
      await writeFile(file, shapes, 'F32');
      const st = await SafetensorsFile.open(file);
      try {
        const d = detectCheckpoint(st, { role: 'clip' });
        assert.equal(d.clip!.config.kind, 'open-clip-h');
        const index = new Map(shapes.map(([n], t) => [n, t]));
        const tIn = index.get('transformer.resblocks.1.attn.in_proj_weight')!;
        for (const [i, p] of ['q_proj', 'k_proj', 'v_proj'].entries()) {
          const w = await d.clip!.weights.float32(`text_model.encoder.layers.1.self_attn.${p}.weight`);
          assert.equal(w.length, width * width);
          for (const e of [0, 1, width * width - 1]) assert.equal(w[e], Math.fround(valueOf(tIn, i * width * width + e)), `${p}[${e}]`);
        }
        const bIn = index.get('transformer.resblocks.0.attn.in_proj_bias')!;
        const kb = await d.clip!.weights.float32('text_model.encoder.layers.0.self_attn.k_proj.bias');
        assert.equal(kb[5], Math.fround(valueOf(bIn, width + 5)));
        const tp = index.get('text_projection')!;
        const proj = await d.clip!.weights.float32('text_projection.weight');
        // weight[o][i] = text_projection[i][o]
        assert.equal(proj[2 * width + 7], Math.fround(valueOf(tp, 7 * width + 2)));
      } finally {
        await st.close();
      }
    });

    it('reshapes diffusers VAE attention to 1×1 convolutions with the same values', async () => {
      const shapes = diffusersVaeShapes(32, [1, 2], 4);
      const file = path.join(dir, 'diffusers-vae.safetensors');
      await writeFile(file, shapes, 'F32');
      const st = await SafetensorsFile.open(file);
      try {
        const d = detectCheckpoint(st, { role: 'vae' });
        assert.deepEqual(d.vae!.config.chMult, [1, 2]);
        assert.deepEqual(d.vae!.weights.shape('encoder.mid.attn_1.q.weight'), [64, 64, 1, 1]);
        const index = new Map(shapes.map(([n], t) => [n, t]));
        const w = await d.vae!.weights.float32('decoder.mid.attn_1.proj_out.weight');
        assert.equal(w[9], Math.fround(valueOf(index.get('decoder.mid_block.attentions.0.to_out.0.weight')!, 9)));
        // Up blocks are numbered in reverse: diffusers up_blocks.0 is LDM up.1 here.
        assert.deepEqual(d.vae!.weights.shape('decoder.up.1.block.0.conv1.weight'), [64, 64, 3, 3]);
        assert.deepEqual(d.vae!.weights.shape('decoder.up.0.block.0.nin_shortcut.weight'), [32, 64, 1, 1]);
      } finally {
        await st.close();
      }
    });

    it('refuses integer weights', async () => {
      const file = path.join(dir, 'int.safetensors');
      const shapes = diffusersVaeShapes(32, [1, 2], 4);
      await writeSafetensors(file, shapes.map(([name, shape]) => ({ name, dtype: name === 'quant_conv.weight' ? 'I32' : 'F32', shape, data: new Uint8Array(shape.reduce((a, d) => a * d, 1) * 4) })));
      const st = await SafetensorsFile.open(file);
      try {
        assert.throws(() => detectCheckpoint(st, { role: 'vae' }), /int\.safetensors: VAE tensor 'quant_conv\.weight' is I32; weights must be F16, BF16, F32 or F64/);
      } finally {
        await st.close();
      }
    });
  });
});
