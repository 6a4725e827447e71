// LoRA module names → model weights, checked against full-size key layouts without their values:
// ComfyUI's reference SD1.5 LoRA (every module it loaded) on the SD1.5 checkpoint layout, and the
// kohya/diffusers spellings of SDXL LoRAs on the SDXL base layout (CLIP-L, OpenCLIP-G, U-Net).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hfClipMapping, openClipMapping } from '../../../src/inference/checkpoint/clipKeys';
import { sourceOfShapes } from '../../../src/inference/checkpoint/weights';
import { clipLoraKeys, ldmToDiffusers, unetLayoutOf, unetLoraKeys } from '../../../src/inference/lora/keyMap';
import { LoraFileError, modulesOf } from '../../../src/inference/lora/loraFile';
import { repoRoot } from '../pipeline/harness';

const REF = path.join(repoRoot, 'test/fixtures/comfyui-reference');
const tensorsOf = (file: string) => (JSON.parse(fs.readFileSync(path.join(REF, file), 'utf8')) as { tensors: [string, number[]][] }).tensors;
const UNET = 'model.diffusion_model.';

function unetWeights(tensors: [string, number[]][]): Map<string, number[]> {
  return new Map(tensors.filter(([n]) => n.startsWith(UNET) && n.endsWith('.weight')).map(([n, s]) => [n.slice(UNET.length), s]));
}

describe('LoRA key maps', () => {
  it("places every module of ComfyUI's reference SD1.5 LoRA on a SD1.5 weight of the matching shape", () => {
    const ckpt = tensorsOf('sd15/checkpoint-manifest.json');
    const unet = unetWeights(ckpt);
    const clipPrefix = 'cond_stage_model.transformer.';
    const clip = new Map(ckpt.filter(([n]) => n.startsWith(clipPrefix)).map(([n, s]) => [n.slice(clipPrefix.length), s]));
    const lora = new Map(tensorsOf('sd15/lora-manifest.json').map(([n, s]) => [n, { shape: s }]));
    const { modules, stray } = modulesOf('ref.safetensors', lora);
    assert.equal(modules.length, 208);
    assert.deepEqual(stray, []);
    const uKeys = unetLoraKeys([...unet.keys()]);
    const cKeys = clipLoraKeys([...clip.keys()], 'clip_l');
    let u = 0;
    let c = 0;
    for (const m of modules) {
      const target = uKeys.get(m.name) ?? cKeys.get(m.name);
      assert.ok(target, `${m.name} maps to nothing`);
      const shape = (uKeys.has(m.name) ? unet : clip).get(target)!;
      assert.equal(shape[0], m.outDim, m.name);
      assert.equal(shape.slice(1).reduce((a, b) => a * b, 1), m.inShape.reduce((a, b) => a * b, 1), m.name);
      if (uKeys.has(m.name)) u++;
      else c++;
    }
    assert.deepEqual([u, c], [160, 48]);
    // The diffusers block numbering (down level ⌊(n−1)/3⌋, up level ⌊n/3⌋) on known pairs.
    assert.equal(uKeys.get('lora_unet_down_blocks_1_attentions_1_proj_in'), 'input_blocks.5.1.proj_in.weight');
    assert.equal(uKeys.get('lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_out_0'), 'output_blocks.11.1.transformer_blocks.0.attn2.to_out.0.weight');
    assert.equal(uKeys.get('lora_unet_mid_block_attentions_0_proj_out'), 'middle_block.1.proj_out.weight');
    assert.equal(uKeys.get('lora_unet_down_blocks_2_downsamplers_0_conv'), 'input_blocks.9.0.op.weight');
    assert.equal(uKeys.get('lora_unet_up_blocks_1_upsamplers_0_conv'), 'output_blocks.5.2.conv.weight');
    assert.equal(uKeys.get('lora_unet_up_blocks_0_upsamplers_0_conv'), 'output_blocks.2.1.conv.weight');
    assert.equal(uKeys.get('lora_unet_down_blocks_0_resnets_1_conv2'), 'input_blocks.2.0.out_layers.3.weight');
    assert.equal(uKeys.get('lora_unet_up_blocks_2_resnets_2_conv_shortcut'), 'output_blocks.8.0.skip_connection.weight');
    assert.equal(uKeys.get('lora_unet_conv_in'), 'input_blocks.0.0.weight');
    assert.equal(uKeys.get('lora_unet_time_embedding_linear_2'), 'time_embed.2.weight');
    // diffusers/PEFT spellings and the LDM spellings.
    assert.equal(uKeys.get('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'), 'input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight');
    assert.equal(uKeys.get('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out'), 'input_blocks.1.1.transformer_blocks.0.attn1.to_out.0.weight');
    assert.equal(uKeys.get('lora_unet_input_blocks_7_1_transformer_blocks_0_ff_net_2'), 'input_blocks.7.1.transformer_blocks.0.ff.net.2.weight');
    assert.equal(uKeys.get('diffusion_model.output_blocks.3.1.proj_out'), 'output_blocks.3.1.proj_out.weight');
    assert.equal(cKeys.get('text_encoder.text_model.encoder.layers.11.mlp.fc2'), 'text_model.encoder.layers.11.mlp.fc2.weight');
    assert.equal(cKeys.get('lora_te1_text_model_encoder_layers_3_self_attn_v_proj'), 'text_model.encoder.layers.3.self_attn.v_proj.weight');
  });

  it('maps SDXL LoRA names onto the SDXL base layout: lora_te1_ → CLIP-L, lora_te2_ → OpenCLIP-G, deep transformer blocks', () => {
    const ckpt = tensorsOf('sdxl/sdxl-base-keys.json');
    const unet = unetWeights(ckpt);
    assert.deepEqual(unetLayoutOf([...unet.keys()]), { numRes: 2 });
    const uKeys = unetLoraKeys([...unet.keys()]);
    assert.equal(uKeys.get('lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_k'), 'input_blocks.4.1.transformer_blocks.1.attn2.to_k.weight');
    assert.equal(uKeys.get('lora_unet_down_blocks_2_attentions_1_transformer_blocks_9_attn1_to_q'), 'input_blocks.8.1.transformer_blocks.9.attn1.to_q.weight');
    assert.equal(uKeys.get('lora_unet_up_blocks_0_attentions_2_proj_out'), 'output_blocks.2.1.proj_out.weight');
    assert.equal(uKeys.get('lora_unet_up_blocks_0_upsamplers_0_conv'), 'output_blocks.2.2.conv.weight');
    assert.equal(uKeys.get('lora_unet_up_blocks_1_upsamplers_0_conv'), 'output_blocks.5.2.conv.weight');
    assert.equal(uKeys.get('lora_unet_mid_block_attentions_0_transformer_blocks_9_ff_net_0_proj'), 'middle_block.1.transformer_blocks.9.ff.net.0.proj.weight');
    assert.equal(uKeys.get('lora_unet_down_blocks_1_downsamplers_0_conv'), 'input_blocks.6.0.op.weight');
    assert.equal(uKeys.get('unet.up_blocks.1.attentions.0.transformer_blocks.1.attn2.to_v'), 'output_blocks.3.1.transformer_blocks.1.attn2.to_v.weight');
    assert.equal(uKeys.get('lora_unet_add_embedding_linear_1'), 'label_emb.0.0.weight');
    // Every SDXL U-Net weight has a diffusers name (the inverse map is total on this layout).
    const missing = [...unet.keys()].filter((w) => !ldmToDiffusers(w.slice(0, -'.weight'.length), { numRes: 2 }));
    assert.deepEqual(missing, []);

    const shapes = ckpt.map(([n, s]) => [n, s] as [string, number[]]);
    const src = sourceOfShapes('sdxl.safetensors', shapes);
    const clipL = [...hfClipMapping(src, 'conditioner.embedders.0.transformer.').map.keys()];
    const clipG = [...openClipMapping(src, 'conditioner.embedders.1.model.').map.keys()];
    const l = clipLoraKeys(clipL, 'clip_l');
    const g = clipLoraKeys(clipG, 'clip_g', true);
    assert.equal(l.get('lora_te1_text_model_encoder_layers_11_mlp_fc1'), 'text_model.encoder.layers.11.mlp.fc1.weight');
    assert.equal(l.get('lora_te2_text_model_encoder_layers_0_self_attn_q_proj'), undefined);
    assert.equal(g.get('lora_te2_text_model_encoder_layers_31_self_attn_q_proj'), 'text_model.encoder.layers.31.self_attn.q_proj.weight');
    assert.equal(g.get('text_encoder_2.text_model.encoder.layers.5.mlp.fc2'), 'text_model.encoder.layers.5.mlp.fc2.weight');
    assert.equal(g.get('lora_te_text_model_encoder_layers_0_self_attn_q_proj'), undefined, 'lora_te_ is the first encoder');
  });

  it('checks factor shapes from the header: mismatched ranks, a non-scalar alpha LoHa/LoKr factors that do not chain and unsupported adapter kinds fail naming the file', () => {
    const t = (entries: [string, number[]][]) => new Map(entries.map(([n, s]) => [n, { shape: s }]));
    assert.throws(() => modulesOf('a.safetensors', t([['x.lora_up.weight', [8, 4]], ['x.lora_down.weight', [2, 8]]])), (e: Error) => e instanceof LoraFileError && /^a\.safetensors: module 'x' has factors/.test(e.message));
    assert.throws(() => modulesOf('b.safetensors', t([['x.lora_up.weight', [8, 4]], ['x.lora_down.weight', [4, 8]], ['x.alpha', [4]]])), /b\.safetensors: 'x\.alpha' has shape \[4\]/);
    assert.throws(() => modulesOf('c.safetensors', t([['x.lokr_w1', [4, 4]], ['x.lokr_w2_a', [8, 2]], ['x.lokr_w2_b', [2, 8]], ['x.lokr_t2', [2, 2, 3, 3]]])), /c\.safetensors: LoKr with a Tucker factor/);
    assert.throws(() => modulesOf('c2.safetensors', t([['x.lokr_w1', [4, 4]]])), /c2\.safetensors: 'x\.lokr_w2_a' is missing/);
    assert.throws(() => modulesOf('c3.safetensors', t([['x.hada_w1_a', [8, 2]], ['x.hada_w1_b', [2, 6]], ['x.hada_w2_a', [8, 2]], ['x.hada_w2_b', [2, 5]]])), /c3\.safetensors: LoHa module 'x' has factors that do not chain/);
    const kr = modulesOf('k.safetensors', t([['x.lokr_w1', [4, 2]], ['x.lokr_w2_a', [8, 3]], ['x.lokr_w2_b', [3, 5]], ['x.alpha', []]])).modules[0];
    assert.deepEqual([kr.kind, kr.outDim, kr.inShape, kr.kind === 'lokr' && kr.dim], ['lokr', 32, [10], 3]);
    assert.throws(() => modulesOf('d.safetensors', t([['x.lora_up.weight', [8, 4]]])), /d\.safetensors: 'x\.lora_up\.weight' has no matching 'x\.lora_down\.weight'/);
    const ok = modulesOf('e.safetensors', t([['x.lora_B.weight', [8, 4]], ['x.lora_A.weight', [4, 6]], ['stray', [1]]]));
    assert.deepEqual(ok.modules.map((m) => [m.kind, m.name, m.outDim, m.inShape]), [['lora', 'x', 8, [6]]]);
    assert.deepEqual(ok.stray, ['stray']);
  });
});
