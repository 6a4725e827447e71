// LoRA and textual-inversion embeddings on SDXL, on small SDXL-layout checkpoints (ComfyUI's full
// key layout). A kohya/PEFT LoRA with U-Net (lora_unet_), CLIP-L (lora_te1_) and OpenCLIP-G
// (lora_te2_, text_encoder_2.) modules through LoraLoader must give what the checkpoint with those
// deltas merged into its weights gives (OpenCLIP's fused in_proj rows included); on the refiner,
// whose only encoder is OpenCLIP-G, that encoder answers to lora_te_ as in comfy/lora.py. An SDXL
// embedding file (clip_l + clip_g tensors) used as `embedding:name` must condition exactly like the
// word whose token rows it holds, on both encoders.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Conditioning } from '../../../src/inference/nodes/modelTypes';
import { float16BitsToNumber, numberToFloat16Bits } from '../../../src/inference/ort/float16';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { writeSafetensors, type TensorToWrite } from '../../../src/inference/safetensors/write';
import type { Latent } from '../../../src/inference/tensor';
import type { ApiPrompt } from '../../../src/workflow/types';
import { writeRuleEntries } from '../../../tools/refgen/generate';
import { ruleLoraTensors } from '../../../tools/refgen/lora';
import { SDXL_BASE_SMALL, SDXL_REFINER_SMALL, sdxlCheckpointTensors } from '../../../tools/refgen/sdxlLayout';
import { captureNode, failure, makeWorkspace, Pipeline } from '../pipeline/harness';
import { diffStats } from './parityHelpers';

const RANK = 4;
const ALPHA = 2;
const CAT = 2368; // "cat</w>" in CLIP's vocabulary (CLIP-L and OpenCLIP-G share it)
const L = 'conditioner.embedders.0.transformer.text_model';

/** One LoRA module: its name, the checkpoint tensor it patches, which rows of it, and its [out, in]. */
interface Module {
  name: string;
  tensor: string;
  rowStart: number;
  out: number;
  in: number;
  peft?: boolean;
}

function sdxlModules(shapes: Map<string, number[]>, gPrefix: string, gSecond: boolean): Module[] {
  const mods: Module[] = [];
  const whole = (name: string, tensor: string, peft = false) => {
    const [out, inDim] = shapes.get(tensor)!;
    mods.push({ name, tensor, rowStart: 0, out, in: inDim, peft });
  };
  for (const [t, s] of shapes) {
    if (!t.startsWith('model.diffusion_model.') || s.length !== 2) continue;
    const ldm = t.slice('model.diffusion_model.'.length, -'.weight'.length);
    if (/attn2\.to_k\.weight$|proj_in\.weight$/.test(t)) whole(`lora_unet_${ldm.replace(/\./g, '_')}`, t);
  }
  const te2 = gSecond ? 'lora_te2_' : 'lora_te_';
  const w = shapes.get(`${gPrefix}.token_embedding.weight`)![1];
  for (let layer = 0; layer < 3; layer++) {
    const r = `${gPrefix}.transformer.resblocks.${layer}`;
    // OpenCLIP fuses q, k, v into in_proj_weight [3w, w]: q is rows 0..w, v rows 2w..3w.
    mods.push({ name: `${te2}text_model_encoder_layers_${layer}_self_attn_q_proj`, tensor: `${r}.attn.in_proj_weight`, rowStart: 0, out: w, in: w });
    mods.push({ name: `${te2}text_model_encoder_layers_${layer}_self_attn_v_proj`, tensor: `${r}.attn.in_proj_weight`, rowStart: 2 * w, out: w, in: w });
    whole(`${te2}text_model_encoder_layers_${layer}_mlp_fc2`, `${r}.mlp.c_proj.weight`);
  }
  if (gSecond) {
    whole('text_encoder_2.text_model.encoder.layers.1.self_attn.out_proj', `${gPrefix}.transformer.resblocks.1.attn.out_proj.weight`, true);
    for (let layer = 0; layer < 2; layer++) {
      whole(`lora_te1_text_model_encoder_layers_${layer}_self_attn_q_proj`, `${L}.encoder.layers.${layer}.self_attn.q_proj.weight`);
      whole(`lora_te1_text_model_encoder_layers_${layer}_mlp_fc1`, `${L}.encoder.layers.${layer}.mlp.fc1.weight`);
    }
  }
  return mods;
}

function loraEntries(mods: readonly Module[], extra: [string, number[]][] = []): [string, number[]][] {
  const out: [string, number[]][] = [...extra];
  for (const m of mods) {
    if (m.peft) out.push([`${m.name}.lora_B.weight`, [m.out, RANK]], [`${m.name}.lora_A.weight`, [RANK, m.in]]);
    else out.push([`${m.name}.lora_up.weight`, [m.out, RANK]], [`${m.name}.lora_down.weight`, [RANK, m.in]], [`${m.name}.alpha`, []]);
  }
  return out;
}

/**
 * The checkpoint with every module's strength × (up·down) × α/rank added (float64 sums, stored
 * float32). Patched text-encoder rows are rounded to float16 as ComfyUI keeps text encoders.
 */
async function writeMerged(ckpt: string, loraFile: string, mods: readonly Module[], out: string, sm: number, sc: number): Promise<void> {
  const st = await SafetensorsFile.open(ckpt);
  const lora = await SafetensorsFile.open(loraFile);
  const tensors: TensorToWrite[] = [];
  for (const [name, info] of st.tensors) {
    if (info.dtype !== 'F16') {
      tensors.push({ name, dtype: info.dtype, shape: [...info.shape], data: () => st.readRaw(name) });
      continue;
    }
    tensors.push({
      name, dtype: 'F32', shape: [...info.shape],
      data: async () => {
        const w = await st.readFloat32(name);
        for (const m of mods.filter((x) => x.tensor === name)) {
          const up = await lora.readFloat32(`${m.name}.${m.peft ? 'lora_B' : 'lora_up'}.weight`);
          const down = await lora.readFloat32(`${m.name}.${m.peft ? 'lora_A' : 'lora_down'}.weight`);
          const s = (name.startsWith('model.') ? sm : sc) * (m.peft ? 1 : ALPHA / RANK);
          for (let o = 0; o < m.out; o++) {
            for (let i = 0; i < m.in; i++) {
              let d = 0;
              for (let k = 0; k < RANK; k++) d += up[o * RANK + k] * down[k * m.in + i];
              const at = (m.rowStart + o) * m.in + i;
              w[at] += s * d;
              if (name.startsWith('conditioner.')) w[at] = float16BitsToNumber(numberToFloat16Bits(w[at]));
            }
          }
        }
        return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
      },
    });
  }
  await writeSafetensors(out, tensors);
  await st.close();
  await lora.close();
}

async function shapesOf(file: string): Promise<Map<string, number[]>> {
  const st = await SafetensorsFile.open(file);
  try {
    return new Map([...st.tensors].map(([n, t]) => [n, [...t.shape]]));
  } finally {
    await st.close();
  }
}

describe('LoRA and embeddings on small SDXL-layout checkpoints', function () {
  this.timeout(600_000);
  let ws: ReturnType<typeof makeWorkspace>;
  let pipe: Pipeline;
  let models: string;
  const captured = new Map<string, unknown>();
  const cond = (id: string) => captured.get(id) as Conditioning;
  const latent = (id: string) => (captured.get(id) as Latent).samples;
  const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);
  /** The CLIP-L (first 64 features) or OpenCLIP-G (last 128) half of each token's conditioning. */
  const half = (c: Conditioning, which: 'l' | 'g') => c[0][0].data.filter((_, i) => (which === 'l' ? i % 192 < 64 : i % 192 >= 64));

  /** Load → (LoraLoader) → two prompts → KSampler at 64², capturing the positive conditioning and the latent. */
  const loraPrompt = (ckpt: string, lora?: { name: string; sm: number; sc: number }, text = 'a red boat'): ApiPrompt => {
    const m: [string, number] = lora ? ['12', 0] : ['4', 0];
    const c: [string, number] = lora ? ['12', 1] : ['4', 1];
    return {
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: ckpt } },
      ...(lora ? { '12': { class_type: 'LoraLoader', inputs: { model: ['4', 0], clip: ['4', 1], lora_name: lora.name, strength_model: lora.sm, strength_clip: lora.sc } } } : {}),
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text, clip: c } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: 'fog', clip: c } },
      '3': { class_type: 'KSampler', inputs: { seed: 9, steps: 2, cfg: 5, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: m, positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
      '20': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['6', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
    };
  };
  const run = async (prompt: ApiPrompt) => {
    const r = await pipe.run(prompt);
    assert.equal(r.outcome.status, 'success', failure(r));
    return { cond: cond('20'), latent: latent('21').data, logs: r.logs.map((l) => l.message) };
  };

  let baseMods: Module[];
  before(async () => {
    ws = makeWorkspace('marble-sdxl-lora-');
    models = path.join(ws.base, 'models');
    for (const d of ['checkpoints', 'loras', 'embeddings']) fs.mkdirSync(path.join(models, d), { recursive: true });
    const base = path.join(models, 'checkpoints', 'xl.safetensors');
    const refiner = path.join(models, 'checkpoints', 'xl-refiner.safetensors');
    await writeRuleEntries(base, sdxlCheckpointTensors(SDXL_BASE_SMALL), 11);
    await writeRuleEntries(refiner, sdxlCheckpointTensors(SDXL_REFINER_SMALL), 12);

    baseMods = sdxlModules(await shapesOf(base), 'conditioner.embedders.1.model', true);
    const baseLora = path.join(models, 'loras', 'xl-lora.safetensors');
    const stray: [string, number[]][] = [['lora_te2_text_model_encoder_layers_7_self_attn_q_proj.lora_up.weight', [128, RANK]], ['lora_te2_text_model_encoder_layers_7_self_attn_q_proj.lora_down.weight', [RANK, 128]]];
    await writeSafetensors(baseLora, ruleLoraTensors(loraEntries(baseMods, stray), 21, ALPHA));
    await writeMerged(base, baseLora, baseMods, path.join(models, 'checkpoints', 'xl-merged.safetensors'), 0.8, 0.6);

    const refMods = sdxlModules(await shapesOf(refiner), 'conditioner.embedders.0.model', false);
    const refLora = path.join(models, 'loras', 'xl-refiner-lora.safetensors');
    await writeSafetensors(refLora, ruleLoraTensors(loraEntries(refMods), 22, ALPHA));
    await writeMerged(refiner, refLora, refMods, path.join(models, 'checkpoints', 'xl-refiner-merged.safetensors'), 0.7, 1.1);

    // An SDXL embedding file holds one tensor per encoder; here each is the token row of "cat".
    const st = await SafetensorsFile.open(base);
    const lRow = await st.readFloat32Range(`${L}.embeddings.token_embedding.weight`, CAT * 64, 64);
    const gRow = await st.readFloat32Range('conditioner.embedders.1.model.token_embedding.weight', CAT * 128, 128);
    await st.close();
    await writeSafetensors(path.join(models, 'embeddings', 'xl-cat.safetensors'), [
      { name: 'clip_l', dtype: 'F32', shape: [1, 64], data: new Uint8Array(Float32Array.from(lRow).buffer) },
      { name: 'clip_g', dtype: 'F32', shape: [1, 128], data: new Uint8Array(Float32Array.from(gRow).buffer) },
    ]);
    // The refiner's own token table differs (another seed): its "cat" row, with a CLIP-L row beside it.
    const rst = await SafetensorsFile.open(refiner);
    const rRow = await rst.readFloat32Range('conditioner.embedders.0.model.token_embedding.weight', CAT * 128, 128);
    await rst.close();
    await writeSafetensors(path.join(models, 'embeddings', 'xlr-cat.safetensors'), [
      { name: 'clip_l', dtype: 'F32', shape: [1, 64], data: new Uint8Array(Float32Array.from(lRow).buffer) },
      { name: 'clip_g', dtype: 'F32', shape: [1, 128], data: new Uint8Array(Float32Array.from(rRow).buffer) },
    ]);

    pipe = new Pipeline(ws.base, { extraNodes: [captureNode('LATENT', (v, id) => captured.set(id, v)), captureNode('CONDITIONING', (v, id) => captured.set(id, v))] });
    pipe.cfg.modelsRoots = [models];
    pipe.cfg.conversionCacheDir = path.join(ws.base, 'cache');
  });
  after(async () => {
    await pipe?.dispose();
    ws?.remove();
  });

  it('SDXL base: LoraLoader (0.8 / 0.6) with lora_unet_, lora_te1_ and lora_te2_ modules equals the merged checkpoint', async () => {
    const merged = await run(loraPrompt('xl-merged.safetensors'));
    const withLora = await run(loraPrompt('xl.safetensors', { name: 'xl-lora.safetensors', sm: 0.8, sc: 0.6 }));
    const plain = await run(loraPrompt('xl.safetensors'));
    const c = diffStats(withLora.cond[0][0].data, merged.cond[0][0].data);
    const pooled = diffStats(withLora.cond[0][1].pooled_output!, merged.cond[0][1].pooled_output!);
    const lat = diffStats(withLora.latent, merged.latent);
    const effect = diffStats(plain.latent, merged.latent);
    console.log(`    SDXL LoRA vs merged: cond rel ${c.relL2.toExponential(2)}, pooled rel ${pooled.relL2.toExponential(2)}, latent rel ${lat.relL2.toExponential(2)}; LoRA effect on the latent: rel ${effect.relL2.toExponential(2)}`);
    assert.ok(effect.relL2 > 1e-2, `the LoRA barely changes the latent (${effect.relL2})`);
    assert.ok(c.relL2 < 1e-5 && pooled.relL2 < 1e-5, `conditioning differs from the merged checkpoint by ${c.relL2} (pooled ${pooled.relL2})`);
    assert.ok(lat.relL2 < 1e-5, `latent differs from the merged checkpoint by ${lat.relL2}`);
    // Both encoders were patched: each half of the conditioning moved.
    assert.ok(!same(half(withLora.cond, 'l'), half(plain.cond, 'l')), 'lora_te1_ modules change the CLIP-L half');
    assert.ok(!same(half(withLora.cond, 'g'), half(plain.cond, 'g')), 'lora_te2_ modules change the OpenCLIP-G half');
    // Every module loaded; only the stray layer-7 key is reported, in ComfyUI's words.
    assert.deepEqual(withLora.logs.filter((l) => l.startsWith('lora key not loaded')), [
      'lora key not loaded: lora_te2_text_model_encoder_layers_7_self_attn_q_proj.lora_down.weight',
      'lora key not loaded: lora_te2_text_model_encoder_layers_7_self_attn_q_proj.lora_up.weight',
    ]);
  });

  it('SDXL base: strength_clip 0 leaves both encoders as they were; LoraLoaderModelOnly reports the text-encoder keys', async () => {
    const plain = await run(loraPrompt('xl.safetensors'));
    const modelOnly = await run(loraPrompt('xl.safetensors', { name: 'xl-lora.safetensors', sm: 0.8, sc: 0 }));
    assert.ok(same(modelOnly.cond[0][0].data, plain.cond[0][0].data) && same(modelOnly.cond[0][1].pooled_output!, plain.cond[0][1].pooled_output!));
    assert.ok(!same(modelOnly.latent, plain.latent));
    const p = loraPrompt('xl.safetensors');
    p['12'] = { class_type: 'LoraLoaderModelOnly', inputs: { model: ['4', 0], lora_name: 'xl-lora.safetensors', strength_model: 0.8 } };
    p['3'].inputs.model = ['12', 0];
    const r = await run(p);
    assert.ok(same(r.latent, modelOnly.latent), 'LoraLoaderModelOnly = LoraLoader with strength_clip 0');
    assert.ok(r.logs.includes('lora key not loaded: lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight'), r.logs.join('\n'));
    assert.ok(r.logs.includes('lora key not loaded: text_encoder_2.text_model.encoder.layers.1.self_attn.out_proj.lora_A.weight'), r.logs.join('\n'));
  });

  it("SDXL refiner: its lone OpenCLIP-G answers to lora_te_ keys; LoraLoader (0.7 / 1.1) equals the merged refiner", async () => {
    const merged = await run(loraPrompt('xl-refiner-merged.safetensors'));
    const withLora = await run(loraPrompt('xl-refiner.safetensors', { name: 'xl-refiner-lora.safetensors', sm: 0.7, sc: 1.1 }));
    const plain = await run(loraPrompt('xl-refiner.safetensors'));
    assert.deepEqual(withLora.logs.filter((l) => l.startsWith('lora key not loaded')), []);
    assert.ok(!same(withLora.cond[0][0].data, plain.cond[0][0].data), 'the refiner LoRA changes its conditioning');
    const c = diffStats(withLora.cond[0][0].data, merged.cond[0][0].data);
    const lat = diffStats(withLora.latent, merged.latent);
    assert.ok(c.relL2 < 1e-5 && lat.relL2 < 1e-5, `refiner LoRA vs merged: cond rel ${c.relL2}, latent rel ${lat.relL2}`);
  });

  it('embedding:name with clip_l and clip_g tensors conditions SDXL exactly like the word whose rows it holds', async () => {
    const word = await run(loraPrompt('xl.safetensors', undefined, 'a photo of cat on grass'));
    const emb = await run(loraPrompt('xl.safetensors', undefined, 'a photo of embedding:xl-cat on grass'));
    const none = await run(loraPrompt('xl.safetensors', undefined, 'a photo of on grass'));
    assert.ok(same(emb.cond[0][0].data, word.cond[0][0].data), 'both halves equal the word');
    assert.ok(same(emb.cond[0][1].pooled_output!, word.cond[0][1].pooled_output!), 'pooled output equals the word');
    assert.ok(same(emb.latent, word.latent));
    assert.ok(!same(none.cond[0][0].data, word.cond[0][0].data));
    // The refiner's OpenCLIP-G reads the clip_g tensor of an SDXL file.
    const refWord = await run(loraPrompt('xl-refiner.safetensors', undefined, 'a photo of cat on grass'));
    const refEmb = await run(loraPrompt('xl-refiner.safetensors', undefined, 'a photo of embedding:xlr-cat on grass'));
    assert.ok(same(refEmb.cond[0][0].data, refWord.cond[0][0].data), 'refiner: embedding = word');
    // A missing one is a warning from the node, naming the folder, and the run goes on.
    const missing = await run(loraPrompt('xl.safetensors', undefined, 'a photo of embedding:nothere'));
    assert.ok(missing.logs.some((l) => l.includes('warning, embedding:nothere does not exist, ignoring') && l.includes(path.join(models, 'embeddings'))), missing.logs.join('\n'));
  });
});
