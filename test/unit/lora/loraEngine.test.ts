// LoraLoader end to end on a small SD1.5-layout checkpoint: the LoRA applied by the engine (to the
// CPU cache entry's ORT-optimized graphs, NCHWc convolutions included) must give what the same
// checkpoint with the LoRA merged into its weights gives, computed here independently; strength
// changes and stacking reuse the conversion; unmatched keys are reported; bad files fail in one
// line naming the file.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { writeSafetensors, type TensorToWrite } from '../../../src/inference/safetensors/write';
import { readComponentGraph } from '../../../src/inference/lora/graphTargets';
import { float16BitsToNumber, numberToFloat16Bits } from '../../../src/inference/ort/float16';
import { writePatchedModel } from '../../../src/inference/lora/applyPatches';
import { unetLoraKeys } from '../../../src/inference/lora/keyMap';
import { openLora } from '../../../src/inference/lora/loraFile';
import { writeOnnxFolder } from '../../../tools/refgen/onnxFolder';
import * as ort from 'onnxruntime-node';
import { loraNodes } from '../../../src/inference/nodes/lora';
import type { NodeContext, NodeDefinition } from '../../../src/workflow/nodeDefinition';
import type { ApiPrompt } from '../../../src/workflow/types';
import { writeRuleCheckpoint } from '../../../tools/refgen/generate';
import { SD15_SMALL } from '../../../tools/refgen/layout';
import { ruleLoraTensors } from '../../../tools/refgen/lora';
import { addModel, captureNode, makeWorkspace, pixelsOf, repoRoot } from '../pipeline/harness';
import { loadCoreCatalog } from '../../../src/workflow/catalog/catalog';
import { parseUiWorkflow } from '../../../src/workflow/parse';
import { readPngMetadata } from '../../../src/workflow/png';
import { uiToApi } from '../../../src/workflow/uiToApi';
import { CASES_DIR, caseRunner, diffStats } from '../checkpoint/parityHelpers';

const RANK = 4;
const ALPHA = 2;
const UNET = 'model.diffusion_model.';
const CLIP = 'cond_stage_model.transformer.';

/** A LoRA module of the test file: its name in the file, the checkpoint weight it patches, its factor shapes. */
interface TestModule {
  name: string;
  weight: string;
  up: number[];
  down: number[];
  mid?: number[];
  spelling: 'kohya' | 'peft' | 'loha' | 'lokr';
  /** LoHa/LoKr factors: suffix → shape. */
  factors?: [string, number[]][];
  /** α/r for LoHa/LoKr modules. */
  scale?: number;
}

function testModules(shapes: Map<string, number[]>): TestModule[] {
  const mods: TestModule[] = [];
  const lin = (name: string, weight: string, spelling: TestModule['spelling'] = 'kohya') => {
    const [o, i] = shapes.get(weight)!;
    mods.push({ name, weight, up: [o, RANK], down: [RANK, i], spelling });
  };
  const conv = (name: string, weight: string) => {
    const [o, i, kh, kw] = shapes.get(weight)!;
    mods.push({ name, weight, up: [o, RANK, 1, 1], down: [RANK, i, kh, kw], spelling: 'kohya' });
  };
  for (const [w, s] of shapes) {
    if (!w.startsWith(UNET)) continue;
    const ldm = w.slice(UNET.length, -'.weight'.length);
    // Kohya's LDM spelling for most attention projections; 1×1 proj_in/proj_out as convolutions.
    if (/attn[12]\.to_(q|v|out\.0)\.weight$/.test(w) || (/attn1\.to_k\.weight$/.test(w) && !w.includes('input_blocks.3.'))) lin(`lora_unet_${ldm.replace(/\./g, '_')}`, w);
    if (/proj_(in|out)\.weight$/.test(w) && s.length === 4) conv(`lora_unet_${ldm.replace(/\./g, '_')}`, w);
  }
  // Diffusers names, written by hand for SD15_SMALL (3 levels, 1 ResBlock each).
  lin('lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k', `${UNET}input_blocks.3.1.transformer_blocks.0.attn2.to_k.weight`);
  lin('unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k', `${UNET}output_blocks.2.1.transformer_blocks.0.attn2.to_k.weight`, 'peft');
  lin('lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_k', `${UNET}input_blocks.3.1.transformer_blocks.0.attn1.to_k.weight`);
  // LoCon: a 3×3 ResBlock convolution, and the Tucker form (lora_mid) on the upsampler.
  conv('lora_unet_down_blocks_0_resnets_0_conv1', `${UNET}input_blocks.1.0.in_layers.2.weight`);
  const [uo, ui] = shapes.get(`${UNET}output_blocks.1.1.conv.weight`)!;
  mods.push({ name: 'lora_unet_up_blocks_0_upsamplers_0_conv', weight: `${UNET}output_blocks.1.1.conv.weight`, up: [uo, RANK, 1, 1], down: [RANK, ui, 1, 1], mid: [RANK, RANK, 3, 3], spelling: 'kohya' });
  // LoHa on a feed-forward output, LoKr on a GEGLU projection (factored w2) and on a 3×3 convolution (4-D w2, no α).
  const [fo, fi] = shapes.get(`${UNET}output_blocks.2.1.transformer_blocks.0.ff.net.2.weight`)!;
  mods.push({ name: 'lora_unet_output_blocks_2_1_transformer_blocks_0_ff_net_2', weight: `${UNET}output_blocks.2.1.transformer_blocks.0.ff.net.2.weight`, up: [], down: [], spelling: 'loha', scale: ALPHA / RANK,
    factors: [['hada_w1_a', [fo, RANK]], ['hada_w1_b', [RANK, fi]], ['hada_w2_a', [fo, 2]], ['hada_w2_b', [2, fi]], ['alpha', []]] });
  const [po, pi] = shapes.get(`${UNET}input_blocks.3.1.transformer_blocks.0.ff.net.0.proj.weight`)!;
  mods.push({ name: 'lora_unet_input_blocks_3_1_transformer_blocks_0_ff_net_0_proj', weight: `${UNET}input_blocks.3.1.transformer_blocks.0.ff.net.0.proj.weight`, up: [], down: [], spelling: 'lokr', scale: ALPHA / RANK,
    factors: [['lokr_w1', [8, 4]], ['lokr_w2_a', [po / 8, RANK]], ['lokr_w2_b', [RANK, pi / 4]], ['alpha', []]] });
  const [co, ci, kh, kw] = shapes.get(`${UNET}input_blocks.3.0.in_layers.2.weight`)!;
  mods.push({ name: 'lora_unet_input_blocks_3_0_in_layers_2', weight: `${UNET}input_blocks.3.0.in_layers.2.weight`, up: [], down: [], spelling: 'lokr', scale: 1,
    factors: [['lokr_w1', [4, 2]], ['lokr_w2', [co / 4, ci / 2, kh, kw]]] });
  for (let l = 0; l < SD15_SMALL.clip.numLayers; l++) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`lora_te_text_model_encoder_layers_${l}_self_attn_${p}`, `${CLIP}text_model.encoder.layers.${l}.self_attn.${p}.weight`);
  }
  lin('text_encoder.text_model.encoder.layers.1.mlp.fc1', `${CLIP}text_model.encoder.layers.1.mlp.fc1.weight`, 'peft');
  return mods;
}

function loraEntries(mods: readonly TestModule[], extra: [string, number[]][] = []): [string, number[]][] {
  const out: [string, number[]][] = [...extra];
  for (const m of mods) {
    if (m.factors) {
      for (const [suffix, shape] of m.factors) out.push([`${m.name}.${suffix}`, shape]);
    } else if (m.spelling === 'peft') {
      out.push([`${m.name}.lora_B.weight`, m.up], [`${m.name}.lora_A.weight`, m.down]);
    } else {
      out.push([`${m.name}.lora_up.weight`, m.up], [`${m.name}.lora_down.weight`, m.down], [`${m.name}.alpha`, []]);
      if (m.mid) out.push([`${m.name}.lora_mid.weight`, m.mid]);
    }
  }
  return out;
}

/** ΔW = up·(mid)·down as the definition reads (float64), [out, in·kh·kw]. */
async function delta(lora: SafetensorsFile, m: TestModule): Promise<Float64Array> {
  const mm = (a: Float32Array, b: Float32Array, rows: number, k: number) => {
    const cols = b.length / k;
    const o = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let t = 0; t < k; t++) for (let j = 0; j < cols; j++) o[i * cols + j] += a[i * k + t] * b[t * cols + j];
    return o;
  };
  const f = (suffix: string) => lora.readFloat32(`${m.name}.${suffix}`);
  const shape = (suffix: string) => m.factors!.find(([s]) => s === suffix)![1];
  if (m.spelling === 'loha') {
    const a = mm(await f('hada_w1_a'), await f('hada_w1_b'), shape('hada_w1_a')[0], RANK);
    const b = mm(await f('hada_w2_a'), await f('hada_w2_b'), shape('hada_w2_a')[0], 2);
    return a.map((v, i) => v * b[i]);
  }
  if (m.spelling === 'lokr') {
    // torch.kron(w1[a, b, 1, 1], w2[c, d, kh, kw]) = [a·c, b·d, kh, kw] (2-D w2: kh = kw = 1).
    const [a, b] = shape('lokr_w1');
    const w1 = await f('lokr_w1');
    const full = m.factors!.some(([s]) => s === 'lokr_w2');
    const w2 = full ? Float64Array.from(await f('lokr_w2')) : mm(await f('lokr_w2_a'), await f('lokr_w2_b'), shape('lokr_w2_a')[0], RANK);
    const [c, d, kh, kw] = full ? shape('lokr_w2') : [shape('lokr_w2_a')[0], shape('lokr_w2_b')[1], 1, 1];
    const hw = kh * kw;
    const o = new Float64Array(a * c * b * d * hw);
    for (let i1 = 0; i1 < a; i1++) for (let i2 = 0; i2 < c; i2++) for (let j1 = 0; j1 < b; j1++) for (let j2 = 0; j2 < d; j2++) for (let p = 0; p < hw; p++)
      o[((i1 * c + i2) * (b * d) + (j1 * d + j2)) * hw + p] = w1[i1 * b + j1] * w2[(i2 * d + j2) * hw + p];
    return o;
  }
  const spell = m.spelling === 'peft' ? ['.lora_B.weight', '.lora_A.weight'] : ['.lora_up.weight', '.lora_down.weight'];
  const up = await lora.readFloat32(m.name + spell[0]);
  const down = await lora.readFloat32(m.name + spell[1]);
  const out = m.up[0];
  if (m.mid) {
    const mid = await lora.readFloat32(`${m.name}.lora_mid.weight`);
    const inDim = m.down[1];
    const hw = m.mid[2] * m.mid[3];
    const d = new Float64Array(out * inDim * hw);
    for (let o = 0; o < out; o++)
      for (let i = 0; i < RANK; i++)
        for (let j = 0; j < RANK; j++)
          for (let c = 0; c < inDim; c++)
            for (let p = 0; p < hw; p++) d[(o * inDim + c) * hw + p] += up[o * RANK + i] * mid[(i * RANK + j) * hw + p] * down[j * inDim + c];
    return d;
  }
  const K = down.length / RANK;
  const d = new Float64Array(out * K);
  for (let o = 0; o < out; o++) for (let k = 0; k < RANK; k++) for (let j = 0; j < K; j++) d[o * K + j] += up[o * RANK + k] * down[k * K + j];
  return d;
}

/** The checkpoint with the LoRA merged (float32), U-Net at `sm`, CLIP at `sc`. */
async function writeMerged(ckpt: string, loraFile: string, mods: readonly TestModule[], out: string, sm: number, sc: number): Promise<void> {
  const st = await SafetensorsFile.open(ckpt);
  const lora = await SafetensorsFile.open(loraFile);
  const byWeight = new Map(mods.map((m) => [m.weight, m]));
  const tensors: TensorToWrite[] = [];
  for (const [name, info] of st.tensors) {
    tensors.push({
      name,
      dtype: 'F32',
      shape: [...info.shape],
      data: async () => {
        const w = await st.readFloat32(name);
        const m = byWeight.get(name);
        if (m) {
          const d = await delta(lora, m);
          const s = (name.startsWith(UNET) ? sm : sc) * (m.scale ?? (m.spelling === 'peft' ? 1 : ALPHA / RANK));
          for (let i = 0; i < w.length; i++) w[i] += s * d[i];
          // ComfyUI stores text-encoder weights in fp16, so a patched CLIP weight is rounded to it.
          if (name.startsWith(CLIP)) for (let i = 0; i < w.length; i++) w[i] = float16BitsToNumber(numberToFloat16Bits(w[i]));
        }
        return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
      },
    });
  }
  await writeSafetensors(out, tensors);
  await st.close();
  await lora.close();
}

function fLoraPrompt(ckpt: string, lora: string, edit?: (p: ApiPrompt) => void): ApiPrompt {
  const p = (JSON.parse(fs.readFileSync(path.join(CASES_DIR, 'f_lora.json'), 'utf8')) as { prompt: ApiPrompt }).prompt;
  p['4'].inputs.ckpt_name = ckpt;
  p['12'].inputs.lora_name = lora;
  edit?.(p);
  return p;
}

describe('LoRA, LoCon, LoHa and LoKr on a small SD1.5-layout checkpoint (engine = merged weights)', function () {
  this.timeout(900_000);
  let ws: { base: string; remove(): void };
  let models: string;
  let mods: TestModule[];
  let runner: ReturnType<typeof caseRunner>;
  let loraFile: string;

  before(async () => {
    ws = makeWorkspace('marble-lora-');
    models = path.join(ws.base, 'models');
    fs.mkdirSync(path.join(models, 'loras'), { recursive: true });
    const ckpt = path.join(models, 'checkpoints', 'small-sd15.safetensors');
    await writeRuleCheckpoint(ckpt, SD15_SMALL, 5);
    const st = await SafetensorsFile.open(ckpt);
    const shapes = new Map([...st.tensors].map(([n, t]) => [n, [...t.shape]]));
    await st.close();
    mods = testModules(shapes);
    loraFile = path.join(models, 'loras', 'small-lora.safetensors');
    await writeSafetensors(loraFile, ruleLoraTensors(loraEntries(mods, [['lora_unet_no_such_layer.lora_up.weight', [8, RANK]], ['lora_unet_no_such_layer.lora_down.weight', [RANK, 8]]]), 11, ALPHA));
    await writeMerged(ckpt, loraFile, mods, path.join(models, 'checkpoints', 'merged.safetensors'), 0.8, 0.6);
    runner = caseRunner(ws.base, models, path.join(ws.base, 'conversion-cache'));
  });
  after(async () => {
    await runner?.pipeline.dispose();
    ws?.remove();
  });


  let withLora: Awaited<ReturnType<typeof runner.run>>;

  it('LoraLoader (strength_model 0.8, strength_clip 0.6) gives the merged checkpoint’s conditioning and latent', async () => {
    const merged = await runner.run('a_default', 'merged.safetensors');
    // f_lora names the reference LoRA; the small one stands in under that name here.
    fs.copyFileSync(loraFile, path.join(models, 'loras', 'marble-random-lora-s11.safetensors'));
    withLora = await runner.run('f_lora', 'small-sd15.safetensors');
    const plain = await runner.run('a_default', 'small-sd15.safetensors');
    const cond = diffStats(withLora.cond.data, merged.cond.data);
    const lat = diffStats(withLora.latent.data, merged.latent.data);
    const effect = diffStats(plain.latent.data, merged.latent.data);
    console.log(`    LoRA vs merged: cond rel ${cond.relL2.toExponential(2)}, latent rel ${lat.relL2.toExponential(2)}; LoRA effect on the latent: rel ${effect.relL2.toExponential(2)}`);
    // The CPU entry holds ORT-optimized graphs: the 1×1 and 3×3 convolutions were patched in NCHWc layout.
    const entry = fs.readdirSync(path.join(ws.base, 'conversion-cache')).find((e) => e.startsWith('small-sd15-'))!;
    const { targets } = await readComponentGraph(path.join(ws.base, 'conversion-cache', entry, 'unet', 'model.onnx'));
    const layouts = new Set(mods.filter((m) => m.weight.startsWith(UNET)).map((m) => targets.get(m.weight.slice(UNET.length))?.layout));
    assert.deepEqual([...layouts].sort(), ['nchwc', 'transposed']);
    assert.deepEqual([...new Set(mods.map((m) => m.spelling))].sort(), ['kohya', 'loha', 'lokr', 'peft']);
    assert.ok(effect.relL2 > 1e-2, `the LoRA barely changes the latent (${effect.relL2})`);
    assert.ok(cond.relL2 < 1e-5, `conditioning differs from the merged checkpoint by ${cond.relL2}`);
    assert.ok(lat.relL2 < 1e-5, `latent differs from the merged checkpoint by ${lat.relL2}`);
  });

  it('a new strength and a stack of two LoraLoaders reuse the one conversion; 0.4 + 0.4 equals 0.8', async () => {
    const cache = path.join(ws.base, 'conversion-cache');
    const entries = () => fs.readdirSync(cache).filter((e) => !e.startsWith('.') && !e.endsWith('.lock')).sort();
    const before = entries();
    const res = await runner.pipeline.run(fLoraPrompt('small-sd15.safetensors', 'small-lora.safetensors', (p) => (p['12'].inputs.strength_model = 0.5)));
    assert.equal(res.outcome.status, 'success', JSON.stringify(res.outcome).slice(0, 500));
    assert.ok(!res.events.some((e) => (e as { type?: string }).type === 'conversion'));
    const stacked = fLoraPrompt('small-sd15.safetensors', 'small-lora.safetensors', (p) => {
      p['12'].inputs.strength_model = 0.4;
      p['12'].inputs.strength_clip = 0.3;
      p['13'] = { class_type: 'LoraLoader', inputs: { model: ['12', 0], clip: ['12', 1], lora_name: 'small-lora.safetensors', strength_model: 0.4, strength_clip: 0.3 } };
      p['3'].inputs.model = ['13', 0];
      p['6'].inputs.clip = ['13', 1];
      p['7'].inputs.clip = ['13', 1];
    });
    let stackedLatent: Float32Array | undefined;
    const cap = captureNode('LATENT', (v) => (stackedLatent = (v as { samples: { data: Float32Array } }).samples.data));
    (runner.pipeline.registry as Map<string, NodeDefinition>).set('TestCaptureStacked', { ...cap, schema: { ...cap.schema, name: 'TestCaptureStacked' } });
    stacked['100'] = { class_type: 'TestCaptureStacked', inputs: { value: ['3', 0] } };
    const r2 = await runner.pipeline.run(stacked);
    assert.equal(r2.outcome.status, 'success', JSON.stringify(r2.outcome).slice(0, 500));
    assert.deepEqual(entries(), before, 'no new conversion-cache entry');
    const st = diffStats(stackedLatent!, withLora.latent.data);
    assert.ok(st.relL2 < 1e-5, `two LoraLoaders at 0.4/0.3 differ from one at 0.8/0.6 by ${st.relL2}`);
    const again = await runner.run('f_lora', 'small-sd15.safetensors');
    assert.ok(diffStats(again.latent.data, withLora.latent.data).relL2 < 1e-6, 'back to 0.8/0.6 gives the first result again');
  });

  it('patches portable graphs too (GPU entries): fp16 weights behind Casts and plain OIHW convolutions', async () => {
    const ckpt = path.join(models, 'checkpoints', 'small-sd15.safetensors');
    const merged = path.join(models, 'checkpoints', 'merged.safetensors');
    const lora = await openLora(loraFile);
    const feeds = () => ({
      sample: new ort.Tensor('float32', Float32Array.from({ length: 2 * 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)), [2, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.from([999, 13.5]), [2]),
      encoder_hidden_states: new ort.Tensor('float32', Float32Array.from({ length: 2 * 77 * 64 }, (_, i) => Math.cos(i * 0.11)), [2, 77, 64]),
    });
    const run = async (file: string) => {
      const s = await ort.InferenceSession.create(file);
      const o = (await s.run(feeds())).out_sample.data as Float32Array;
      await s.release();
      return o;
    };
    try {
      for (const precision of ['fp16', 'fp32'] as const) {
        const base = path.join(ws.base, `portable-${precision}`);
        await writeOnnxFolder(ckpt, base, SD15_SMALL, { precision });
        await writeOnnxFolder(merged, `${base}-merged`, SD15_SMALL, { precision });
        const unet = path.join(base, 'unet', 'model.onnx');
        const { targets } = await readComponentGraph(unet);
        const keys = unetLoraKeys([...targets.keys()]);
        const modules = lora.modules.filter((m) => keys.has(m.name)).map((module) => ({ module, target: keys.get(module.name)! }));
        const used = modules.map((m) => targets.get(m.target)!);
        assert.deepEqual([...new Set(used.map((t) => t.layout))].sort(), ['oihw', 'transposed'], precision);
        assert.deepEqual([...new Set(used.map((t) => t.dtype))], [precision === 'fp16' ? 'float16' : 'float32']);
        const patched = await writePatchedModel(unet, [{ file: loraFile, identity: 'test', strength: 0.8, modules }]);
        // Beside the model (same disk: the unpatched weights file is hard-linked, not copied).
        assert.equal(path.dirname(path.dirname(patched.file)), base);
        const data = fs.readdirSync(path.join(base, 'unet')).find((f) => f.endsWith('onnx_data'))!;
        assert.equal(fs.statSync(path.join(path.dirname(patched.file), data)).ino, fs.statSync(path.join(base, 'unet', data)).ino);
        try {
          const d = diffStats(await run(patched.file), await run(path.join(`${base}-merged`, 'unet', 'model.onnx')));
          assert.ok(d.relL2 < (precision === 'fp16' ? 1e-4 : 1e-5), `${precision}: patched U-Net differs from the merged one by ${d.relL2}`);
        } finally {
          await patched.dispose();
        }
        assert.deepEqual(fs.readdirSync(base).filter((f) => f.startsWith('.tmp-')), [], 'the patched copy is gone');
      }
    } finally {
      await lora.st.close();
    }
  });

  it('applies DoRA magnitudes (dora_scale) as ComfyUI\'s weight_decompose, on a linear and on an NCHWc convolution', async () => {
    const ckpt = path.join(models, 'checkpoints', 'small-sd15.safetensors');
    const st = await SafetensorsFile.open(ckpt);
    const dmods = mods.filter((m) => m.spelling === 'kohya' && !m.mid && /input_blocks\.1\.1\.(proj_in|transformer_blocks\.0\.attn2\.to_q)\.weight$/.test(m.weight));
    assert.equal(dmods.length, 2);
    const file = path.join(models, 'loras', 'dora.safetensors');
    const entries = loraEntries(dmods);
    for (const m of dmods) entries.push([`${m.name}.dora_scale`, m.down.length === 4 ? [1, m.down[1], 1, 1] : [1, m.down[1]]]);
    await writeSafetensors(file, ruleLoraTensors(entries, 13, ALPHA, 2 ** -1));
    const lora = await SafetensorsFile.open(file);
    const strength = 0.7;
    const tensors: TensorToWrite[] = [];
    for (const [name, info] of st.tensors) {
      tensors.push({
        name, dtype: 'F32', shape: [...info.shape],
        data: async () => {
          const w = await st.readFloat32(name);
          const m = dmods.find((x) => x.weight === name);
          if (m) {
            // weight_decompose: W' = W + α/r·ΔW; W'[:, j] · dora[j] / ‖W'[:, j]‖; W + s·(W'' − W).
            const d = await delta(lora, m);
            const dora = await lora.readFloat32(`${m.name}.dora_scale`);
            const [out, inDim] = info.shape;
            const hw = w.length / (out * inDim);
            const calc = Float64Array.from(w, (v, i) => v + (ALPHA / RANK) * d[i]);
            const norm = new Float64Array(inDim);
            calc.forEach((v, i) => (norm[Math.floor(i / hw) % inDim] += v * v));
            for (let i = 0; i < w.length; i++) {
              const j = Math.floor(i / hw) % inDim;
              w[i] += strength * ((calc[i] * dora[j]) / Math.sqrt(norm[j]) - w[i]);
            }
          }
          return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
        },
      });
    }
    await writeSafetensors(path.join(models, 'checkpoints', 'merged-dora.safetensors'), tensors);
    await st.close();
    await lora.close();
    const merged = await runner.run('a_default', 'merged-dora.safetensors');
    let latent: Float32Array | undefined;
    const cap = captureNode('LATENT', (v) => (latent = (v as { samples: { data: Float32Array } }).samples.data));
    (runner.pipeline.registry as Map<string, NodeDefinition>).set('TestCaptureDora', { ...cap, schema: { ...cap.schema, name: 'TestCaptureDora' } });
    const prompt = fLoraPrompt('small-sd15.safetensors', 'dora.safetensors', (p) => Object.assign(p['12'].inputs, { strength_model: strength, strength_clip: 0 }));
    prompt['100'] = { class_type: 'TestCaptureDora', inputs: { value: ['3', 0] } };
    const res = await runner.pipeline.run(prompt);
    assert.equal(res.outcome.status, 'success', JSON.stringify(res.outcome).slice(0, 500));
    const d = diffStats(latent!, merged.latent.data);
    const plain = await runner.run('a_default', 'small-sd15.safetensors');
    const effect = diffStats(plain.latent.data, merged.latent.data);
    console.log(`    DoRA vs merged: latent rel ${d.relL2.toExponential(2)}; DoRA effect on the latent: rel ${effect.relL2.toExponential(2)}`);
    assert.ok(effect.relL2 > 1e-2, `the DoRA LoRA barely changes the latent (${effect.relL2})`);
    assert.ok(d.relL2 < 1e-5, `DoRA latent differs from the merged checkpoint by ${d.relL2}`);
  });

  it("reports keys that match nothing as ComfyUI does ('lora key not loaded: …'), and LoraLoaderModelOnly leaves the text-encoder keys unloaded", async () => {
    const [loader, modelOnly] = loraNodes(runner.pipeline.services);
    const logs: string[] = [];
    const ctx = { promptId: 'p', nodeId: '12', hidden: {} as never, signal: new AbortController().signal, progress: () => undefined, log: (m: string) => logs.push(m) } as NodeContext;
    const ckpt = await runner.pipeline.registry.get('CheckpointLoaderSimple')!.run({ ckpt_name: 'small-sd15.safetensors' }, ctx);
    const [model, clip] = ckpt.outputs;
    await loader.run({ model, clip, lora_name: 'small-lora.safetensors', strength_model: 1, strength_clip: 1 }, ctx);
    assert.deepEqual(logs.filter((l) => l.startsWith('lora key not loaded')), ['lora key not loaded: lora_unet_no_such_layer.lora_down.weight', 'lora key not loaded: lora_unet_no_such_layer.lora_up.weight']);
    assert.ok(logs.some((l) => l.includes('small-lora.safetensors: 2 of')), logs.join('\n'));
    logs.length = 0;
    const out = await modelOnly.run({ model, lora_name: 'small-lora.safetensors', strength_model: 1 }, ctx);
    assert.ok(logs.some((l) => l === 'lora key not loaded: lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight'));
    assert.ok(logs.some((l) => l === 'lora key not loaded: text_encoder.text_model.encoder.layers.1.mlp.fc1.lora_A.weight'));
    assert.ok((out.outputs[0] as { unet: { patches: unknown[] } }).unet.patches.length === 1);
  });

  it("runs ComfyUI's LoRA example workflow (lora.png) with its names resolved in the models folder (64², 3 steps)", async () => {
    const ui = parseUiWorkflow(JSON.parse(readPngMetadata(fs.readFileSync(path.join(repoRoot, 'test/fixtures/comfyui/examples/lora.png'))).workflow!));
    const { prompt } = uiToApi(ui, loadCoreCatalog());
    assert.equal(prompt['10'].class_type, 'LoraLoader');
    // The example names a .ckpt; its .safetensors version stands in, found by base name.
    fs.linkSync(path.join(models, 'checkpoints', 'small-sd15.safetensors'), path.join(models, 'checkpoints', 'v1-5-pruned-emaonly.safetensors'));
    fs.copyFileSync(loraFile, path.join(models, 'loras', String(prompt['10'].inputs.lora_name)));
    Object.assign(prompt['5'].inputs, { width: 64, height: 64 });
    prompt['3'].inputs.steps = 3;
    const res = await runner.pipeline.run(prompt);
    assert.equal(res.outcome.status, 'success', JSON.stringify(res.outcome).slice(0, 800));
    const [png] = runner.pipeline.savedFiles(res.outcome);
    const { width, height } = await pixelsOf(png);
    assert.deepEqual([width, height], [64, 64]);
  });

  it('refuses, in one line naming the file, an SDXL LoRA, mismatched shapes, Tucker-form LoHa and a truncated file', async () => {
    const [loader] = loraNodes(runner.pipeline.services);
    const ctx = { promptId: 'p', nodeId: '12', hidden: {} as never, signal: new AbortController().signal, progress: () => undefined, log: () => undefined } as NodeContext;
    const [model, clip] = (await runner.pipeline.registry.get('CheckpointLoaderSimple')!.run({ ckpt_name: 'small-sd15.safetensors' }, ctx)).outputs;
    const write = async (name: string, entries: [string, number[]][]) => writeSafetensors(path.join(models, 'loras', name), ruleLoraTensors(entries, 3, 4));
    await write('sdxl-lora.safetensors', [
      ['lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', [1280, 4]],
      ['lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', [4, 1280]],
      ['lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight', [640, 4]],
      ['lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight', [4, 2048]],
    ]);
    await write('bad-shape.safetensors', [
      ['lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_up.weight', [32, 4]],
      ['lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_down.weight', [4, 48]],
    ]);
    await write('loha.safetensors', [
      ['lora_unet_input_blocks_1_1_proj_in.hada_w1_a', [32, 4]],
      ['lora_unet_input_blocks_1_1_proj_in.hada_w1_b', [4, 32]],
      ['lora_unet_input_blocks_1_1_proj_in.hada_w2_a', [32, 4]],
      ['lora_unet_input_blocks_1_1_proj_in.hada_w2_b', [4, 32]],
      ['lora_unet_input_blocks_1_1_proj_in.hada_t1', [4, 4, 1, 1]],
      ['lora_unet_input_blocks_1_1_proj_in.hada_t2', [4, 4, 1, 1]],
    ]);
    const good = fs.readFileSync(loraFile);
    fs.writeFileSync(path.join(models, 'loras', 'truncated.safetensors'), good.subarray(0, good.length - 100));
    const cases: [string, RegExp][] = [
      ['sdxl-lora.safetensors', /sdxl-lora\.safetensors is a LoRA for SDXL, but the model 'small-sd15' is a 64-wide cross-attention/],
      ['bad-shape.safetensors', /bad-shape\.safetensors: module 'lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q' is \[32, 48\] but the model's input_blocks\.1\.1\.transformer_blocks\.0\.attn1\.to_q\.weight is \[32, 32\]/],
      ['loha.safetensors', /loha\.safetensors: LoHa with Tucker factors \(hada_t1\/hada_t2\) modules are not supported/],
      ['truncated.safetensors', /truncated\.safetensors/],
    ];
    // A model from an ONNX folder exported elsewhere: its weight names are not the checkpoint's.
    addModel(ws.base, 'tiny-onnx', 'fp32');
    const [tinyModel, tinyClip] = (await runner.pipeline.registry.get('CheckpointLoaderSimple')!.run({ ckpt_name: 'tiny-onnx' }, ctx)).outputs;
    await assert.rejects(
      async () => loader.run({ model: tinyModel, clip: tinyClip, lora_name: 'small-lora.safetensors', strength_model: 1, strength_clip: 1 }, ctx),
      /none of the \d+ modules of small-lora\.safetensors match a weight of 'tiny-onnx'.*LoRAs apply to models loaded from \.safetensors checkpoints/,
    );
    for (const [name, re] of cases) {
      await assert.rejects(
        async () => loader.run({ model, clip, lora_name: name, strength_model: 1, strength_clip: 1 }, ctx),
        (e: Error) => {
          assert.match(e.message, re);
          assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
          return true;
        },
      );
    }
  });
});
