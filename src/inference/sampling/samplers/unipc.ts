// UniPC multistep predictor–corrector (Zhao et al. 2023, B(h) variants) as ComfyUI runs it
// (comfy/extra_samplers/uni_pc.py sample_unipc with SigmaConvert): data prediction (predict_x0),
// order min(3, len(sigmas) − 2), lower order on the final steps, no corrector on the last step.
// The solver works in VP scale x_vp = x/√(1+σ²) with α = 1/√(1+σ²), std = σ/√(1+σ²), λ = −log σ;
// its data prediction at σ equals the denoiser's x0 (computed via ε as ComfyUI does). A final σ of 0
// is replaced by 0.001. One quirk kept: with 2 sigmas (1 step) order is 0 and ComfyUI returns the
// input rescaled by α(σ_0)/α(0.001) without a solver step.

import { checkAbort, checkInputs, denoise, report, type Denoiser, type SamplerOptions } from './types';

const alphaOf = (s: number): number => 1 / Math.sqrt(1 + s * s);
const stdOf = (s: number): number => s / Math.sqrt(1 + s * s);
const lambdaOf = (s: number): number => -Math.log(s);

/** Solves the small dense system A·x = b by Gaussian elimination with partial pivoting. */
export function solveSmall(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row.slice(0, n), b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    if (m[c][c] === 0) throw new Error('uni_pc: singular coefficient matrix (repeated sigmas?)');
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

type Variant = 'bh1' | 'bh2';

async function sampleUniPcVariant(variant: Variant, model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions): Promise<Float32Array> {
  const name = variant === 'bh1' ? 'uni_pc' : 'uni_pc_bh2';
  const ts = checkInputs(name, x0, sigmasIn);
  if (ts.length < 2) return Float32Array.from(x0);
  if (ts[ts.length - 1] === 0) ts[ts.length - 1] = 0.001;
  const steps = ts.length - 1;
  const order = Math.min(3, ts.length - 2);
  const n = x0.length;
  const x = new Float32Array(n);
  const scale0 = Math.sqrt(1 + ts[0] * ts[0]);
  for (let j = 0; j < n; j++) x[j] = x0[j] / scale0;

  // The model in VP scale, the way ComfyUI routes it: predict_eps_sigma turns the denoiser into
  // ε = (x_ve − D)/σ, then data_prediction_fn forms x0 = (x_vp − std·ε)/α with SigmaConvert's
  // α = exp(½·log(1/(σ²+1))) and std = √(1 − α²). Equal to D in exact arithmetic; kept as written
  // so float32 rounding (cancellation at large σ) follows ComfyUI's.
  const modelFn = async (xv: Float32Array, s: number): Promise<Float32Array> => {
    const k = Math.sqrt(s * s + 1);
    const xIn = new Float32Array(n);
    for (let j = 0; j < n; j++) xIn[j] = xv[j] * k;
    const den = await denoise(name, model, xIn, s);
    const logMean = 0.5 * Math.log(1 / (s * s + 1));
    const alpha = Math.exp(logMean);
    const std = Math.sqrt(1 - Math.exp(2 * logMean));
    const x0 = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      const eps = Math.fround((xIn[j] - den[j]) / s);
      x0[j] = (xv[j] - std * eps) / alpha;
    }
    return x0;
  };

  const modelPrev: Float32Array[] = [];
  const tPrev: number[] = [];

  const update = async (t: number, stepOrder: number, useCorrector: boolean): Promise<Float32Array | null> => {
    const tp0 = tPrev[tPrev.length - 1];
    const m0 = modelPrev[modelPrev.length - 1];
    const lp0 = lambdaOf(tp0);
    const h = lambdaOf(t) - lp0;
    const rks: number[] = [];
    const d1s: Float32Array[] = [];
    for (let i = 1; i < stepOrder; i++) {
      const rk = (lambdaOf(tPrev[tPrev.length - 1 - i]) - lp0) / h;
      const mi = modelPrev[modelPrev.length - 1 - i];
      const d = new Float32Array(n);
      for (let j = 0; j < n; j++) d[j] = (mi[j] - m0[j]) / rk;
      rks.push(rk);
      d1s.push(d);
    }
    rks.push(1);
    const hh = -h;
    const hPhi1 = Math.expm1(hh);
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    const bH = variant === 'bh1' ? hh : Math.expm1(hh);
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= stepOrder; i++) {
      R.push(rks.map((r) => r ** (i - 1)));
      b.push((hPhiK * factorial) / bH);
      factorial *= i + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }
    let rhosP: number[] = [];
    if (d1s.length > 0) {
      rhosP = stepOrder === 2 ? [0.5] : solveSmall(R.slice(0, -1).map((r) => r.slice(0, -1)), b.slice(0, -1));
    }
    const alphaT = alphaOf(t);
    const ratio = stdOf(t) / stdOf(tp0);
    const c0 = alphaT * hPhi1;
    const cB = alphaT * bH;
    const base = new Float32Array(n); // x_t_ in the reference
    const xt = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      base[j] = ratio * x[j] - c0 * m0[j];
      let pred = 0;
      for (let k = 0; k < d1s.length; k++) pred += rhosP[k] * d1s[k][j];
      xt[j] = base[j] - cB * pred;
    }
    let modelT: Float32Array | null = null;
    if (useCorrector) {
      const rhosC = stepOrder === 1 ? [0.5] : solveSmall(R, b);
      modelT = await modelFn(xt, t);
      const last = rhosC[rhosC.length - 1];
      for (let j = 0; j < n; j++) {
        let corr = 0;
        for (let k = 0; k < d1s.length; k++) corr += rhosC[k] * d1s[k][j];
        xt[j] = base[j] - cB * (corr + last * (modelT[j] - m0[j]));
      }
    }
    x.set(xt);
    return modelT;
  };

  for (let stepIndex = 0; stepIndex < steps; stepIndex++) {
    checkAbort(opts);
    if (stepIndex === 0) {
      modelPrev.push(await modelFn(x, ts[0]));
      tPrev.push(ts[0]);
    } else if (stepIndex < order) {
      const t = ts[stepIndex];
      const mx = (await update(t, stepIndex, true)) ?? (await modelFn(x, t));
      modelPrev.push(mx);
      tPrev.push(t);
    } else {
      const extra = stepIndex === steps - 1 ? 1 : 0;
      for (let step = stepIndex; step <= stepIndex + extra; step++) {
        const t = ts[step];
        const stepOrder = Math.min(order, steps + 1 - step);
        const mx = await update(t, stepOrder, step !== steps);
        for (let i = 0; i < order - 1; i++) {
          tPrev[i] = tPrev[i + 1];
          modelPrev[i] = modelPrev[i + 1];
        }
        tPrev[tPrev.length - 1] = t;
        if (step < steps) modelPrev[modelPrev.length - 1] = mx ?? (await modelFn(x, t));
      }
    }
    await report(opts, stepIndex, x, ts[stepIndex], ts[stepIndex], modelPrev[modelPrev.length - 1], steps);
  }
  const out = new Float32Array(n);
  const aEnd = alphaOf(ts[ts.length - 1]);
  for (let j = 0; j < n; j++) out[j] = x[j] / aEnd;
  return out;
}

export const sampleUniPc = (model: Denoiser, x: Float32Array, sigmas: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> =>
  sampleUniPcVariant('bh1', model, x, sigmas, opts);

export const sampleUniPcBh2 = (model: Denoiser, x: Float32Array, sigmas: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> =>
  sampleUniPcVariant('bh2', model, x, sigmas, opts);
