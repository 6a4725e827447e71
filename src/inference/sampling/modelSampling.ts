// The discrete noise schedule of SD-family models and the model-type formulas around the U-Net call,
// after ComfyUI's comfy/model_sampling.py (ModelSamplingDiscrete + EPS / V_PREDICTION / X0) and
// comfy_extras/nodes_model_advanced.py (LCM + ModelSamplingDiscreteDistilled).
//
// Precision: the β/ᾱ/σ table is built in float64 and stored as float32 like ComfyUI (`sigmas` and
// `log_sigmas` are float32 buffers; log_sigmas is float32(log(float64 σ)), not log of the float32 σ).
// sigma(t) and timestep(σ) emulate torch's float32 steps (exp/log correctly rounded, where torch is
// within an ulp); the scalings run in float64 and agree with torch to about one float32 ulp.

import { linspace } from './numeric';

const f32 = Math.fround;

/** eps and v_prediction as in diffusers; lcm = ComfyUI ModelSamplingDiscrete(sampling="lcm"); x0 = model outputs x0. */
export type PredictionType = 'eps' | 'v_prediction' | 'lcm' | 'x0';

/**
 * A diffusers-style scheduler config (scheduler/scheduler_config.json). Naming trap: diffusers
 * "scaled_linear" is what ComfyUI calls "linear" (β = linspace(√start, √end)²); diffusers "linear"
 * is plain linspace(start, end) (ComfyUI "sqrt_linear").
 */
export interface DiscreteScheduleConfig {
  beta_schedule?: 'scaled_linear' | 'linear' | 'squaredcos_cap_v2';
  beta_start?: number;
  beta_end?: number;
  num_train_timesteps?: number;
  trained_betas?: readonly number[] | null;
  /** diffusers names: epsilon | v_prediction | sample. Overridden by options.prediction. */
  prediction_type?: 'epsilon' | 'v_prediction' | 'sample';
  rescale_betas_zero_snr?: boolean;
}

export interface ModelSamplingOptions {
  prediction?: PredictionType;
  /** Rescale to zero terminal SNR (ComfyUI zsnr). Defaults to config.rescale_betas_zero_snr. */
  zsnr?: boolean;
}

/** SD1.x / SD2-base / SDXL defaults (ComfyUI's ModelSamplingDiscrete defaults). */
export const SD_SCHEDULE: DiscreteScheduleConfig = {
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  beta_end: 0.012,
  num_train_timesteps: 1000,
};

const LCM_ORIGINAL_STEPS = 50;

export function makeBetas(config: DiscreteScheduleConfig = {}): Float64Array {
  const n = config.num_train_timesteps ?? 1000;
  if (!Number.isInteger(n) || n < 2) throw new Error(`scheduler config: num_train_timesteps must be an integer ≥ 2, got ${n}`);
  if (config.trained_betas) {
    if (config.trained_betas.length !== n) {
      throw new Error(`scheduler config: trained_betas has ${config.trained_betas.length} entries, expected num_train_timesteps = ${n}`);
    }
    return Float64Array.from(config.trained_betas);
  }
  const start = config.beta_start ?? 0.00085;
  const end = config.beta_end ?? 0.012;
  const kind = config.beta_schedule ?? 'scaled_linear';
  switch (kind) {
    case 'scaled_linear':
      return linspace(Math.sqrt(start), Math.sqrt(end), n).map((b) => b * b);
    case 'linear':
      return linspace(start, end, n);
    case 'squaredcos_cap_v2': {
      const abar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.min(1 - abar((i + 1) / n) / abar(i / n), 0.999);
      return out;
    }
    default:
      throw new Error(`scheduler config: unsupported beta_schedule "${String(kind)}" (expected scaled_linear, linear or squaredcos_cap_v2)`);
  }
}

/** ComfyUI's rescale_zero_terminal_snr_sigmas (arXiv 2305.08891), on float64 sigmas. */
export function rescaleZeroTerminalSnrSigmas(sigmas: Float64Array): Float64Array {
  const n = sigmas.length;
  const sqrtAbar = sigmas.map((s) => Math.sqrt(1 / (s * s + 1)));
  const first = sqrtAbar[0];
  const last = sqrtAbar[n - 1];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = (sqrtAbar[i] - last) * (first / (first - last));
    let abar = v * v;
    if (i === n - 1) abar = 4.8973451890853435e-8; // ComfyUI avoids an infinite sigma this way
    out[i] = Math.sqrt((1 - abar) / abar);
  }
  return out;
}

/**
 * ModelSamplingDiscrete.sigma: clamp, floor/ceil/frac and the log-linear blend, each step rounded
 * to float32 as torch evaluates it (t.float(), (1 − w)·lo + w·hi, exp).
 */
function interpolateLogSigma(logSigmas: Float32Array, t: number): number {
  const tc = f32(Math.min(Math.max(f32(t), 0), logSigmas.length - 1));
  const lo = Math.floor(tc);
  const hi = Math.ceil(tc);
  const w = tc - lo; // exact in float32
  const blended = f32(f32(f32(1 - w) * logSigmas[lo]) + f32(w * logSigmas[hi]));
  return f32(Math.exp(blended));
}

export class ModelSampling {
  /** float32 σ table, ascending (index 0 = least noise). */
  readonly sigmas: Float32Array;
  readonly logSigmas: Float32Array;
  readonly prediction: PredictionType;
  readonly sigmaData = 1;
  /** Training timesteps per table entry: 1, or 20 for LCM (1000 / 50 original steps). */
  readonly skipSteps: number;
  readonly numTrainTimesteps: number;

  constructor(config: DiscreteScheduleConfig = SD_SCHEDULE, options: ModelSamplingOptions = {}) {
    this.prediction = options.prediction ?? predictionFromConfig(config);
    const betas = makeBetas(config);
    let cumprod = 1;
    let sigmas64: Float64Array = betas.map((b) => {
      cumprod *= 1 - b;
      return Math.sqrt((1 - cumprod) / cumprod);
    });
    if (options.zsnr ?? config.rescale_betas_zero_snr ?? false) sigmas64 = rescaleZeroTerminalSnrSigmas(sigmas64);
    this.numTrainTimesteps = sigmas64.length;
    if (this.prediction === 'lcm') {
      // ModelSamplingDiscreteDistilled keeps the σ at t = skip−1, 2·skip−1, …, T−1.
      this.skipSteps = Math.floor(sigmas64.length / LCM_ORIGINAL_STEPS);
      const kept = new Float64Array(LCM_ORIGINAL_STEPS);
      for (let x = 0; x < LCM_ORIGINAL_STEPS; x++) {
        kept[LCM_ORIGINAL_STEPS - 1 - x] = sigmas64[sigmas64.length - 1 - x * this.skipSteps];
      }
      sigmas64 = kept;
    } else {
      this.skipSteps = 1;
    }
    this.sigmas = Float32Array.from(sigmas64);
    // set_sigmas stores log of the float64 σ for the full table, but the distilled (LCM) table is
    // re-set from the float32 σ buffer, so its log is taken of the float32 values.
    this.logSigmas = this.prediction === 'lcm'
      ? Float32Array.from(this.sigmas, (s) => Math.log(s))
      : Float32Array.from(sigmas64, (s) => Math.log(s));
  }

  get sigmaMin(): number {
    return this.sigmas[0];
  }

  get sigmaMax(): number {
    return this.sigmas[this.sigmas.length - 1];
  }

  /**
   * The integer training timestep the U-Net is given for σ: argmin |log σ − log_sigmas|, first on
   * ties. torch does this in float32 (σ.log() and the differences), which decides exact ties such
   * as the midpoints the normal scheduler produces, so it is emulated here.
   */
  timestep(sigma: number): number {
    const ls = f32(Math.log(f32(sigma)));
    let best = 0;
    let bestDist = Infinity;
    for (let i = 0; i < this.logSigmas.length; i++) {
      const d = Math.abs(f32(ls - this.logSigmas[i]));
      if (d < bestDist) {
        bestDist = d;
        best = i;
      }
    }
    return best * this.skipSteps + (this.skipSteps - 1);
  }

  /** σ at a (possibly fractional) training timestep: log-linear interpolation of the table. */
  sigma(timestep: number): number {
    const t = this.skipSteps === 1 ? timestep : f32(f32(f32(timestep) - (this.skipSteps - 1)) / this.skipSteps);
    return interpolateLogSigma(this.logSigmas, t);
  }

  percentToSigma(percent: number): number {
    if (percent <= 0) return 999999999.9;
    if (percent >= 1) return 0;
    return this.sigma((1 - percent) * 999);
  }

  /** U-Net input: x / √(σ² + σ_data²). */
  calculateInput(sigma: number, x: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
    const inv = 1 / Math.sqrt(sigma * sigma + this.sigmaData * this.sigmaData);
    for (let i = 0; i < x.length; i++) out[i] = x[i] * inv;
    return out;
  }

  /** x0 prediction from the raw model output and the (unscaled) model input x. */
  calculateDenoised(sigma: number, modelOutput: Float32Array, x: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
    if (modelOutput.length !== x.length) {
      throw new Error(`calculateDenoised: model output has ${modelOutput.length} elements, input has ${x.length}`);
    }
    const sd2 = this.sigmaData * this.sigmaData;
    switch (this.prediction) {
      case 'eps':
        for (let i = 0; i < x.length; i++) out[i] = x[i] - modelOutput[i] * sigma;
        return out;
      case 'v_prediction': {
        const cSkip = sd2 / (sigma * sigma + sd2);
        const cOut = (sigma * this.sigmaData) / Math.sqrt(sigma * sigma + sd2);
        for (let i = 0; i < x.length; i++) out[i] = x[i] * cSkip - modelOutput[i] * cOut;
        return out;
      }
      case 'lcm': {
        // LCM boundary condition: σ_data 0.5, timestep scaled ×10 (diffusers timestep_scaling).
        const st = this.timestep(sigma) * 10;
        const cSkip = 0.25 / (st * st + 0.25);
        const cOut = st / Math.sqrt(st * st + 0.25);
        for (let i = 0; i < x.length; i++) out[i] = cOut * (x[i] - modelOutput[i] * sigma) + cSkip * x[i];
        return out;
      }
      case 'x0':
        out.set(modelOutput);
        return out;
    }
  }

  /**
   * Initial x from noise and the latent (EPS.noise_scaling): at full denoise the noise is scaled by
   * √(1+σ²) (variance-preserving start), otherwise by σ.
   */
  noiseScaling(sigma: number, noise: Float32Array, latent: Float32Array | null, maxDenoise: boolean): Float32Array {
    if (latent && latent.length !== noise.length) {
      throw new Error(`noiseScaling: noise has ${noise.length} elements, latent has ${latent.length}`);
    }
    const k = maxDenoise ? Math.sqrt(1 + sigma * sigma) : sigma;
    const out = new Float32Array(noise.length);
    for (let i = 0; i < noise.length; i++) out[i] = noise[i] * k + (latent ? latent[i] : 0);
    return out;
  }

  inverseNoiseScaling(_sigma: number, latent: Float32Array): Float32Array {
    return latent;
  }

  /** KSAMPLER.max_denoise: the schedule starts at (or above) σ_max. */
  isMaxDenoise(firstSigma: number): boolean {
    const max = this.sigmaMax;
    return Math.abs(max - firstSigma) <= 1e-5 * Math.max(Math.abs(max), Math.abs(firstSigma)) || firstSigma > max;
  }
}

function predictionFromConfig(config: DiscreteScheduleConfig): PredictionType {
  switch (config.prediction_type ?? 'epsilon') {
    case 'epsilon':
      return 'eps';
    case 'v_prediction':
      return 'v_prediction';
    case 'sample':
      return 'x0';
    default:
      throw new Error(`scheduler config: unsupported prediction_type "${String(config.prediction_type)}" (expected epsilon, v_prediction or sample)`);
  }
}

export function createModelSampling(config: DiscreteScheduleConfig = SD_SCHEDULE, options: ModelSamplingOptions = {}): ModelSampling {
  return new ModelSampling(config, options);
}
