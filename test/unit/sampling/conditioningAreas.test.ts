// ConditioningSetArea / ConditioningSetMask through the CFG denoiser and the U-Net call, checked
// against a float64 re-statement of ComfyUI's process_conds + calc_cond_batch written here from
// comfy/samplers.py, with a stub U-Net whose output depends on the crop it sees and the prompt.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { conditioningNodes } from '../../../src/inference/nodes/conditioning';
import type { ModelServices } from '../../../src/inference/nodes/modelServices';
import type { Conditioning, SdModel } from '../../../src/inference/nodes/modelTypes';
import { createUnetCall } from '../../../src/inference/nodes/unetCall';
import { createCfgDenoiser } from '../../../src/inference/sampling/cfg';
import { createModelSampling } from '../../../src/inference/sampling/modelSampling';
import type { Tensor } from '../../../src/inference/tensor';

const ms = createModelSampling();
const D = 4; // cross-attention width of the stub prompts
const nodes = new Map(conditioningNodes({} as ModelServices).map((n) => [n.schema.name, n]));
const runNode = async (name: string, inputs: Record<string, unknown>) =>
  (await nodes.get(name)!.run(inputs, {} as never)).outputs[0] as Conditioning;

/** A prompt: cross-attention [1, 2, D] whose first token is `k`. */
const prompt = (k: number[]): Conditioning => [[{ data: Float32Array.from([...k, ...k.map((v) => -v)]), shape: [1, 2, D] }, {}]];

// Stub U-Net: eps depends on the input, the prompt's first token per channel, the position inside
// the crop (so a misplaced crop shows) and the timestep.
const stubEps = (xv: number, k: number, i: number, j: number, t: number) => 0.6 * xv + 0.3 * k + 0.02 * (i - 0.5 * j) + t / 4000;

function stubModel(shapes: number[][]): SdModel {
  const unet = {
    async run(feeds: Record<string, { data?: Float32Array; shape?: number[]; timestep?: number }>) {
      const s = feeds.sample as { data: Float32Array; shape: number[] };
      const e = feeds.encoder_hidden_states as { data: Float32Array; shape: number[] };
      const t = feeds.timestep.timestep as number;
      shapes.push([...s.shape]);
      const [n, c, h, w] = s.shape;
      const out = new Float32Array(s.data.length);
      for (let b = 0; b < n; b++) for (let q = 0; q < c; q++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
        const at = ((b * c + q) * h + i) * w + j;
        out[at] = stubEps(s.data[at], e.data[b * e.shape[1] * e.shape[2] + q], i, j, t);
      }
      return { out_sample: { data: out, shape: s.shape } };
    },
  };
  return { name: 'stub', inChannels: 4, latentScale: 0.18215, modelSampling: ms, unet } as unknown as SdModel;
}

// ---- float64 reference -------------------------------------------------------------------------
type Area = [number, number, number, number];
interface RefEntry { k: Float32Array; strength: number; area?: Area; mask?: Float64Array; mb: number; maskStrength: number; start?: number; end?: number }

function bilinear(src: Float32Array, batch: number, ih: number, iw: number, oh: number, ow: number): Float64Array {
  const out = new Float64Array(batch * oh * ow);
  const tap = (o: number, inn: number, out: number) => {
    const s = Math.max((o + 0.5) * (inn / out) - 0.5, 0);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, inn - 1), s - i0];
  };
  for (let b = 0; b < batch; b++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const [y0, y1, ly] = tap(y, ih, oh);
    const [x0, x1, lx] = tap(x, iw, ow);
    const v = (yy: number, xx: number) => src[b * ih * iw + yy * iw + xx];
    out[b * oh * ow + y * ow + x] = (1 - ly) * ((1 - lx) * v(y0, x0) + lx * v(y0, x1)) + ly * ((1 - lx) * v(y1, x0) + lx * v(y1, x1));
  }
  return out;
}

function refResolve(list: Conditioning, H: number, W: number): RefEntry[] {
  return list.map(([t, ex]) => {
    const e: RefEntry = { k: t.data.subarray(0, D), strength: ex.strength ?? 1, mb: 1, maskStrength: ex.mask_strength ?? 1, area: ex.area ? [...ex.area] as Area : undefined };
    if (ex.mask) {
      const [mh, mw] = ex.mask.shape.slice(-2);
      e.mb = ex.mask.data.length / (mh * mw);
      e.mask = bilinear(ex.mask.data, e.mb, mh, mw, H, W);
      if (ex.set_area_to_bounds) {
        const ys: number[] = [];
        const xs: number[] = [];
        e.mask.forEach((v, i) => { if (v !== 0) { ys.push(Math.floor((i % (H * W)) / W)); xs.push(i % W); } });
        e.area = ys.length === 0 ? [8, 8, 0, 0] : [Math.max(8, Math.max(...ys) - Math.min(...ys) + 1), Math.max(8, Math.max(...xs) - Math.min(...xs) + 1), Math.min(...ys), Math.min(...xs)];
      }
    }
    if (ex.start_percent !== undefined) e.start = ms.percentToSigma(ex.start_percent);
    if (ex.end_percent !== undefined) e.end = ms.percentToSigma(ex.end_percent);
    return e;
  });
}

function refEqualArea(into: RefEntry[], c: RefEntry) {
  if (!c.area) return;
  const [ch, cw, cy, cx] = c.area;
  let best: RefEntry | undefined;
  for (const x of into) {
    if (!x.area) { best ??= x; continue; }
    const [h, w, y, xx] = x.area;
    if (cy < y || cx < xx || ch + cy > h + y || cw + cx > w + xx) continue;
    if (!best || !best.area || best.area[0] * best.area[1] > h * w) best = x;
  }
  if (!best || (best.area && best.area.join() === c.area.join())) return;
  into.push({ ...c, k: best.k });
}

/** calc_cond_batch for one list on one sample: x0 [4,H,W]. */
function refCalc(list: RefEntry[], x: Float64Array, b: number, batch: number, H: number, W: number, sigma: number): Float64Array {
  const P = H * W;
  const out = new Float64Array(4 * P);
  const cnt = new Float64Array(P).fill(1e-37);
  const scale = 1 / Math.sqrt(sigma * sigma + 1);
  const t = ms.timestep(sigma);
  for (const e of list) {
    if (e.start !== undefined && sigma > e.start) continue;
    if (e.end !== undefined && sigma < e.end) continue;
    let [ah, aw, ay, ax] = e.area ?? [H, W, 0, 0];
    ah = Math.min(H - ay, ah);
    aw = Math.min(W - ax, aw);
    const mult = new Float64Array(ah * aw);
    for (let i = 0; i < ah; i++) for (let j = 0; j < aw; j++) {
      const m = e.mask ? e.mask[(b % Math.min(e.mb, batch)) * P + (ay + i) * W + ax + j] * e.maskStrength : 1;
      mult[i * aw + j] = m * e.strength;
    }
    if (!e.mask && e.area) {
      const rh = Math.min(8, Math.floor(ah / 4));
      const rw = Math.min(8, Math.floor(aw / 4));
      for (let i = 0; i < ah; i++) for (let j = 0; j < aw; j++) {
        let f = 1;
        if (ay !== 0 && i < rh) f *= (i + 1) / rh;
        if (ay + ah < H && ah - 1 - i < rh) f *= (ah - i) / rh;
        if (ax !== 0 && j < rw) f *= (j + 1) / rw;
        if (ax + aw < W && aw - 1 - j < rw) f *= (aw - j) / rw;
        mult[i * aw + j] *= f;
      }
    }
    for (let q = 0; q < 4; q++) for (let i = 0; i < ah; i++) for (let j = 0; j < aw; j++) {
      const at = (ay + i) * W + ax + j;
      const xv = x[q * P + at];
      const den = xv - stubEps(xv * scale, e.k[q], i, j, t) * sigma;
      out[q * P + at] += den * mult[i * aw + j];
      if (q === 0) cnt[at] += mult[i * aw + j];
    }
  }
  for (let q = 0; q < 4; q++) for (let i = 0; i < P; i++) out[q * P + i] /= cnt[i];
  return out;
}

function reference(pos: Conditioning, neg: Conditioning, x: Float32Array, shape: number[], sigma: number, cfg: number): Float64Array {
  const [B, , H, W] = shape;
  const p = refResolve(pos, H, W);
  const n = refResolve(neg, H, W);
  for (const c of [...p]) refEqualArea(n, c);
  for (const c of [...n]) refEqualArea(p, c);
  const per = 4 * H * W;
  const res = new Float64Array(x.length);
  for (let b = 0; b < B; b++) {
    const xb = Float64Array.from(x.subarray(b * per, (b + 1) * per));
    const c = refCalc(p, xb, b, B, H, W, sigma);
    const u = refCalc(n, xb, b, B, H, W, sigma);
    for (let i = 0; i < per; i++) res[b * per + i] = u[i] + (c[i] - u[i]) * cfg;
  }
  return res;
}
// -------------------------------------------------------------------------------------------------

function latentX(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2 + Math.cos(i * 0.11));
}

async function compare(pos: Conditioning, neg: Conditioning, shape: number[], sigma = 2.5, cfg = 5) {
  const shapes: number[][] = [];
  const x = latentX(shape);
  const den = createCfgDenoiser({ modelSampling: ms, model: createUnetCall(stubModel(shapes), shape), positive: pos, negative: neg, cfg, batchSize: shape[0] });
  const got = await den(x, sigma);
  const want = reference(pos, neg, x, shape, sigma, cfg);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  assert.ok(worst < 2e-5, `max relative difference to the float64 reference ${worst}`);
  return { got, want, shapes };
}

const A = prompt([1, -0.5, 0.25, 2]);
const B = prompt([-1.5, 0.75, 1, -0.25]);
const C = prompt([0.5, 0.5, -2, 1]);
const N = prompt([0.1, -0.2, 0.3, -0.4]);

describe('sampling/conditioning areas (ComfyUI calc_cond_batch parity)', () => {
  it('ConditioningSetArea stores latent units and the strength, leaving the input untouched', async () => {
    const out = await runNode('ConditioningSetArea', { conditioning: B, width: 100, height: 64, x: 20, y: 8, strength: 1.5 });
    assert.deepEqual(out[0][1].area, [8, 12, 1, 2]);
    assert.equal(out[0][1].strength, 1.5);
    assert.equal(out[0][0], B[0][0]);
    assert.equal(B[0][1].area, undefined);
  });

  it('an area inside the latent: crop run, feathered inner edges, an equal-area copy on the negative', async () => {
    const area = await runNode('ConditioningSetArea', { conditioning: B, width: 96, height: 64, x: 16, y: 32, strength: 1 });
    const pos = [...A, ...area];
    const { shapes } = await compare(pos, N, [1, 4, 16, 16]);
    // Full-size rows (A, N) share one run; the 8×12 crops (B, N's copy) another.
    assert.deepEqual(shapes, [[2, 4, 16, 16], [2, 4, 8, 12]]);
  });

  it('a large area fades over at most 8 latent rows/columns (rr = min(8, size // 4))', async () => {
    const area = await runNode('ConditioningSetArea', { conditioning: B, width: 296, height: 256, x: 16, y: 40, strength: 1.2 });
    const { shapes } = await compare([...A, ...area], N, [1, 4, 40, 44]);
    assert.deepEqual(shapes, [[2, 4, 40, 44], [2, 4, 32, 37]]);
  });

  it('an area on the border is not feathered there, and an area-only positive leaves x0 = 0 outside', async () => {
    const area = await runNode('ConditioningSetArea', { conditioning: B, width: 64, height: 128, x: 64, y: 0, strength: 0.8 });
    const { got, want } = await compare(area, N, [1, 4, 16, 16]);
    // Outside the area the positive has no entry: cond x0 = 0, so result = uncond·(1 − cfg).
    assert.ok(Math.abs(got[0]) > 1e-3 && Math.abs(got[0] - want[0]) < 1e-4);
  });

  it('ConditioningSetMask: a resized mask batch with strength, per latent sample', async () => {
    const mask: Tensor = { data: Float32Array.from({ length: 2 * 20 * 24 }, (_, i) => ((i * 7) % 13) / 12), shape: [2, 20, 24] };
    const masked = await runNode('ConditioningSetMask', { conditioning: B, mask, strength: 0.7, set_cond_area: 'default' });
    const { shapes } = await compare([...A, ...masked], N, [2, 4, 8, 8]);
    assert.ok(shapes.every((s) => s[2] === 8 && s[3] === 8), 'default mode runs on the whole latent');
  });

  it("ConditioningSetMask 'mask bounds' crops to the mask's bounding box (at least 8×8)", async () => {
    const data = new Float32Array(96 * 96);
    for (let y = 40; y < 80; y++) for (let x = 8; x < 30; x++) data[y * 96 + x] = 0.9;
    const masked = await runNode('ConditioningSetMask', { conditioning: B, mask: { data, shape: [96, 96] }, strength: 1.3, set_cond_area: 'mask bounds' });
    const { shapes } = await compare([...A, ...masked], N, [1, 4, 12, 12]);
    // The resized mask is non-zero from latent row 5 and column 0 to 3: the 8×8 minimum box, clamped
    // at the bottom edge to 7 rows, run with its negative copy.
    assert.deepEqual(shapes, [[2, 4, 12, 12], [2, 4, 7, 8]]);
  });

  it('two overlapping areas and a global prompt, weighted per element', async () => {
    const a1 = await runNode('ConditioningSetArea', { conditioning: B, width: 64, height: 96, x: 0, y: 16, strength: 1 });
    const a2 = await runNode('ConditioningSetArea', { conditioning: C, width: 80, height: 64, x: 40, y: 48, strength: 2.5 });
    const { shapes } = await compare([...A, ...a1, ...a2], N, [1, 4, 16, 16], 6.1, 7.5);
    assert.equal(shapes.length, 3);
  });

  it('an area on the negative gets an equal-area copy of the positive prompt', async () => {
    const negArea = await runNode('ConditioningSetArea', { conditioning: C, width: 64, height: 64, x: 32, y: 32, strength: 1 });
    const { shapes } = await compare(A, [...N, ...negArea], [1, 4, 16, 16]);
    assert.deepEqual(shapes, [[2, 4, 16, 16], [2, 4, 8, 8]]);
  });

  it('start/end percent switch an area entry off outside its range', async () => {
    const area = await runNode('ConditioningSetArea', { conditioning: B, width: 64, height: 64, x: 0, y: 0, strength: 1 });
    const late = area.map(([t, e]) => [t, { ...e, start_percent: 0.5 }] as [Tensor, typeof e]);
    const early = await compare([...A, ...late], N, [1, 4, 12, 12], 8);
    assert.equal(early.shapes.length, 1, 'σ = 8 is before 50 %: the area does not run');
    const lateRun = await compare([...A, ...late], N, [1, 4, 12, 12], 0.3);
    assert.equal(lateRun.shapes.length, 2);
  });

  it('says what is wrong with an area outside the image or a mask batch that does not fit', async () => {
    const area = await runNode('ConditioningSetArea', { conditioning: B, width: 64, height: 64, x: 512, y: 0, strength: 1 });
    const model = createUnetCall(stubModel([]), [1, 4, 8, 8]);
    assert.throws(() => createCfgDenoiser({ modelSampling: ms, model, positive: area, negative: N, cfg: 5 }), /positive conditioning entry 1: the area at x 512, y 0 \(pixels\) lies outside the 64×64 image/);
    const masked = await runNode('ConditioningSetMask', { conditioning: B, mask: { data: new Float32Array(2 * 64), shape: [2, 8, 8] }, strength: 1, set_cond_area: 'default' });
    const model3 = createUnetCall(stubModel([]), [3, 4, 8, 8]);
    assert.throws(() => createCfgDenoiser({ modelSampling: ms, model: model3, positive: masked, negative: N, cfg: 5, batchSize: 3 }), /a mask batch of 2 does not fit a latent batch of 3/);
    await assert.rejects(runNode('ConditioningSetMask', { conditioning: B, mask: 'nope', strength: 1, set_cond_area: 'default' }), /input 'mask' must be a MASK/);
  });

  it('lists without areas keep the plain path (eps averaged by strength, one run)', async () => {
    const shapes: number[][] = [];
    const model = createUnetCall(stubModel(shapes), [1, 4, 8, 8]);
    const prepared = model.prepareConds!(A, N);
    assert.equal(prepared.positive, A);
    assert.equal(prepared.negative, N);
  });
});
