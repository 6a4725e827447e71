// KSampler and the custom-sampling family. The pure sampling library does the math; this file
// turns node inputs into a sampling run over the ONNX U-Net, with progress and previews.
import {
  createCfgDenoiser, createModelSampling, denoisedSigmas, getSampler, ksample, latentToRgb, prepareNoise, sdTurboSigmas,
  sigmasExponential, sigmasKarras, sliceSigmas, splitSigmas, SUPPORTED_SAMPLERS, toSeed, SCHEDULER_NAMES,
  type PredictionType, type StepInfo,
} from '../sampling';
import { encodePreviewPng } from '../image/previewPng';
import type { Latent } from '../tensor';
import type { NodeContext, NodeDefinition } from '../../workflow/nodeDefinition';
import type { ModelServices } from './modelServices';
import { asConditioning, asModel, type Conditioning, type SdModel } from './modelTypes';
import { schemaOf, withComboOptions } from './schema';

/** Validation then lists exactly the samplers Marble implements, before any model runs. */
const samplerSchema = (name: string) => withComboOptions(schemaOf(name), 'sampler_name', SUPPORTED_SAMPLERS);
import { createUnetCall, maskToLatent } from './unetCall';

const PREVIEW_INTERVAL_MS = 250;
const UNSUPPORTED_UNET_INPUTS: Record<string, string> = {
  timestep_cond: 'LCM U-Nets with a guidance embedding (timestep_cond) are not supported yet',
};

export function asLatent(v: unknown, input = 'latent_image'): Latent {
  const l = v as Latent | undefined;
  if (!l || typeof l !== 'object' || !(l.samples?.data instanceof Float32Array) || l.samples.shape.length !== 4) {
    throw new Error(`input '${input}' must be a LATENT ([batch, 4, height/8, width/8]); connect Empty Latent Image or VAE Encode`);
  }
  return l;
}

export interface SampleRun {
  model: SdModel;
  seed: unknown;
  cfg: number;
  samplerName: string;
  sigmas: Float64Array;
  positive: Conditioning;
  negative: Conditioning;
  latent: Latent;
  addNoise: boolean;
}

/** Runs one sampling pass; returns the new LATENT (raw VAE space, noise_mask kept) and the last x0. */
export async function runSampler(run: SampleRun, ctx: NodeContext, services: ModelServices): Promise<{ latent: Latent; denoised: Latent }> {
  const { model, latent, sigmas } = run;
  const seed = toSeed(run.seed as bigint | number, 'seed');
  getSampler(run.samplerName); // an unknown name fails before any model runs
  const io = await model.unet.open();
  for (const spec of io.inputs) {
    const why = UNSUPPORTED_UNET_INPUTS[spec.name];
    if (why) throw new Error(`model '${model.name}': ${why}`);
  }
  if (model.unet.ep) services.onEp({ model: `${model.name}/unet`, provider: model.unet.ep });
  const shape = latent.samples.shape;
  const [batch, channels, h, w] = shape;
  if (channels !== 4) throw new Error(`input 'latent_image' has ${channels} channels; SD1.x/SD2.x latents have 4`);
  const scale = model.latentScale;
  const latentIn = new Float32Array(latent.samples.data.length);
  for (let i = 0; i < latentIn.length; i++) latentIn[i] = latent.samples.data[i] * scale;
  const noise = run.addNoise ? prepareNoise(seed, shape, latent.batch_index) : new Float32Array(latentIn.length);
  const mask = latent.noise_mask ? maskToLatent(latent.noise_mask, batch, h, w) : undefined;
  const denoiseMask = mask && expandChannels(mask, channels, h * w);

  const denoiser = createCfgDenoiser<Conditioning>({
    modelSampling: model.modelSampling,
    model: createUnetCall(model, shape, { latentIn, mask }),
    positive: model.sdxl ? sdxlAdm(run.positive, model, 'positive', h, w) : run.positive,
    negative: model.sdxl ? sdxlAdm(run.negative, model, 'negative', h, w) : run.negative,
    cfg: run.cfg,
    batchSize: batch,
  });
  let lastPreview = 0;
  let lastDenoised: Float32Array = latentIn;
  const previews = services.getConfig().previews;
  const callback = async (info: StepInfo) => {
    lastDenoised = info.denoised;
    const step = info.i + 1;
    const now = Date.now();
    let preview;
    if (previews && (now - lastPreview >= PREVIEW_INTERVAL_MS || step === info.totalSteps)) {
      lastPreview = now;
      // Latent resolution, shrunk past 512 like ComfyUI's thumbnail() and never enlarged: viewers scale it up.
      const rgb = latentToRgb(info.denoised, shape, model.latentRgb, 0);
      preview = { format: 'png' as const, data: encodePreviewPng(rgb, 512) };
    }
    ctx.progress(step, info.totalSteps, preview);
  };
  const out = sigmas.length < 2
    ? Float32Array.from(latentIn)
    : await ksample({
        sampler: run.samplerName, sigmas, modelSampling: model.modelSampling, denoiser, latent: latentIn, noise, seed,
        denoiseMask, callback, signal: ctx.signal,
      });
  const toRaw = (x: Float32Array) => {
    const r = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) r[i] = x[i] / scale;
    return r;
  };
  const keep = { noise_mask: latent.noise_mask, batch_index: latent.batch_index };
  return {
    latent: { ...stripUndefined(keep), samples: { data: toRaw(out), shape } },
    denoised: { ...stripUndefined(keep), samples: { data: toRaw(lastDenoised), shape } },
  };
}

/**
 * A seed the generator cannot take, found before any model runs. The schema's max (2^64−1) is not
 * a double, so a JSON seed of 18446744073709551615 parses to 2^64 and passes the generic range check.
 */
function seedProblem(inputs: Record<string, unknown>, name: string): string | undefined {
  const v = inputs[name];
  if (typeof v !== 'number' && typeof v !== 'bigint') return undefined; // linked: checked when it arrives
  try {
    toSeed(v, name);
    return undefined;
  } catch (e) {
    return `${(e as Error).message}; JSON numbers above 2^53 are rounded, the largest usable seed is 18446744073709549568`;
  }
}

/**
 * ComfyUI's SDXL/SDXLRefiner.encode_adm per conditioning entry, with samplers.encode_model_conds'
 * defaults: width/height the latent's size in pixels, crop 0, target = size, and the refiner's
 * aesthetic score 6 (positive) or 2.5 (negative). The values feed the U-Net's time_ids in
 * ComfyUI's order (height before width); the pooled text embedding feeds text_embeds.
 */
export function sdxlAdm(cond: Conditioning, model: SdModel, promptType: 'positive' | 'negative', latentH: number, latentW: number): Conditioning {
  const { pooledDim, timeValues } = model.sdxl!;
  return cond.map(([t, e]) => {
    const pooled = e.pooled_output;
    if (!pooled) {
      throw new Error(`model '${model.name}' is SDXL: its ${promptType} conditioning has no pooled text embedding; encode it with the SDXL checkpoint's CLIP (CLIPTextEncode, CLIPTextEncodeSDXL)`);
    }
    if (pooled.length !== pooledDim) {
      throw new Error(`model '${model.name}' takes a ${pooledDim}-wide pooled text embedding but its ${promptType} conditioning carries ${pooled.length} values: the CLIP is not this model's`);
    }
    const width = e.width ?? latentW * 8;
    const height = e.height ?? latentH * 8;
    const last = timeValues === 6
      ? [e.target_height ?? height, e.target_width ?? width]
      : [e.aesthetic_score ?? (promptType === 'negative' ? 2.5 : 6)];
    const timeIds = Float32Array.from([height, width, e.crop_h ?? 0, e.crop_w ?? 0, ...last]);
    return [t, { ...e, sdxl_adm: { textEmbeds: pooled, timeIds } }];
  });
}

function expandChannels(mask: Float32Array, channels: number, plane: number): Float32Array {
  const batch = mask.length / plane;
  const out = new Float32Array(batch * channels * plane);
  for (let b = 0; b < batch; b++) for (let c = 0; c < channels; c++) out.set(mask.subarray(b * plane, (b + 1) * plane), (b * channels + c) * plane);
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function asSigmas(v: unknown, input = 'sigmas'): Float64Array {
  if (!(v instanceof Float64Array)) throw new Error(`input '${input}' must be SIGMAS (connect a scheduler node)`);
  return v;
}

function checkScheduler(name: unknown): string {
  const s = String(name);
  if (!(SCHEDULER_NAMES as readonly string[]).includes(s)) throw new Error(`input 'scheduler': '${s}' is not one of ${SCHEDULER_NAMES.join(', ')}`);
  return s;
}

/** A SAMPLER value (KSamplerSelect → SamplerCustom). */
interface SamplerValue {
  name: string;
}

export function samplingNodes(services: ModelServices): NodeDefinition[] {
  return [
    {
      schema: samplerSchema('KSampler'),
      validateInputs: (inputs) => seedProblem(inputs, 'seed') ?? true,
      async run(inputs, ctx) {
        const model = asModel(inputs.model);
        const sampler = String(inputs.sampler_name);
        const sigmas = denoisedSigmas(model.modelSampling, checkScheduler(inputs.scheduler), Number(inputs.steps), Number(inputs.denoise), sampler);
        const { latent } = await runSampler({
          model, seed: inputs.seed, cfg: Number(inputs.cfg), samplerName: sampler, sigmas,
          positive: asConditioning(inputs.positive, 'positive'), negative: asConditioning(inputs.negative, 'negative'),
          latent: asLatent(inputs.latent_image), addNoise: true,
        }, ctx, services);
        return { outputs: [latent] };
      },
    },
    {
      schema: samplerSchema('KSamplerAdvanced'),
      // ComfyUI silently returns the latent untouched here; a user who set the steps that way
      // almost always meant something else, so Marble says so before any model runs.
      validateInputs(inputs) {
        const seed = seedProblem(inputs, 'noise_seed');
        if (seed) return seed;
        const start = inputs.start_at_step;
        const end = inputs.end_at_step;
        if (typeof start === 'number' && typeof end === 'number' && start > end) {
          return `start_at_step (${start}) is beyond end_at_step (${end}); nothing would be sampled`;
        }
        return true;
      },
      async run(inputs, ctx) {
        const model = asModel(inputs.model);
        const sampler = String(inputs.sampler_name);
        const start = Number(inputs.start_at_step);
        const end = Number(inputs.end_at_step);
        if (start > end) throw new Error(`input 'start_at_step' (${start}) is beyond 'end_at_step' (${end})`);
        const full = denoisedSigmas(model.modelSampling, checkScheduler(inputs.scheduler), Number(inputs.steps), 1, sampler);
        const forceFull = inputs.return_with_leftover_noise !== 'enable';
        const sliced = sliceSigmas(full, start, end, forceFull);
        const latent = asLatent(inputs.latent_image);
        if (!sliced) return { outputs: [latent] };
        const out = await runSampler({
          model, seed: inputs.noise_seed, cfg: Number(inputs.cfg), samplerName: sampler, sigmas: sliced,
          positive: asConditioning(inputs.positive, 'positive'), negative: asConditioning(inputs.negative, 'negative'),
          latent, addNoise: inputs.add_noise !== 'disable',
        }, ctx, services);
        return { outputs: [out.latent] };
      },
    },
    {
      schema: schemaOf('SamplerCustom'),
      validateInputs: (inputs) => seedProblem(inputs, 'noise_seed') ?? true,
      async run(inputs, ctx) {
        const sampler = inputs.sampler as SamplerValue | undefined;
        if (!sampler || typeof sampler.name !== 'string') throw new Error("input 'sampler' must be a SAMPLER (connect KSamplerSelect)");
        const out = await runSampler({
          model: asModel(inputs.model), seed: inputs.noise_seed, cfg: Number(inputs.cfg), samplerName: sampler.name,
          sigmas: asSigmas(inputs.sigmas), positive: asConditioning(inputs.positive, 'positive'),
          negative: asConditioning(inputs.negative, 'negative'), latent: asLatent(inputs.latent_image), addNoise: inputs.add_noise !== false,
        }, ctx, services);
        return { outputs: [out.latent, out.denoised] };
      },
    },
    {
      schema: samplerSchema('KSamplerSelect'),
      run(inputs) {
        const name = String(inputs.sampler_name);
        if (!SUPPORTED_SAMPLERS.includes(name)) throw new Error(`input 'sampler_name': '${name}' is not supported by Marble; supported: ${SUPPORTED_SAMPLERS.join(', ')}`);
        const value: SamplerValue = { name };
        return { outputs: [value] };
      },
    },
    {
      schema: schemaOf('BasicScheduler'),
      run(inputs) {
        const model = asModel(inputs.model);
        return { outputs: [denoisedSigmas(model.modelSampling, checkScheduler(inputs.scheduler), Number(inputs.steps), Number(inputs.denoise))] };
      },
    },
    {
      schema: schemaOf('KarrasScheduler'),
      run(inputs) {
        return { outputs: [sigmasKarras(Number(inputs.steps), Number(inputs.sigma_min), Number(inputs.sigma_max), Number(inputs.rho))] };
      },
    },
    {
      schema: schemaOf('ExponentialScheduler'),
      run(inputs) {
        return { outputs: [sigmasExponential(Number(inputs.steps), Number(inputs.sigma_min), Number(inputs.sigma_max))] };
      },
    },
    {
      schema: schemaOf('SDTurboScheduler'),
      run(inputs) {
        const model = asModel(inputs.model);
        return { outputs: [sdTurboSigmas(model.modelSampling, Number(inputs.steps), Number(inputs.denoise ?? 1))] };
      },
    },
    {
      schema: schemaOf('SplitSigmas'),
      run(inputs) {
        return { outputs: splitSigmas(asSigmas(inputs.sigmas), Number(inputs.step)) };
      },
    },
    {
      schema: schemaOf('ModelSamplingDiscrete'),
      run(inputs) {
        const model = asModel(inputs.model);
        const sampling = String(inputs.sampling);
        const prediction: PredictionType | undefined =
          sampling === 'eps' ? 'eps' : sampling === 'v_prediction' ? 'v_prediction' : sampling === 'lcm' ? 'lcm' : sampling === 'x0' ? 'x0' : undefined;
        if (!prediction) throw new Error(`input 'sampling': '${sampling}' is not supported by Marble (eps, v_prediction, lcm, x0)`);
        const config = (model.description.schedulerConfig ?? {}) as Parameters<typeof createModelSampling>[0];
        const next: SdModel = { ...model, modelSampling: createModelSampling(config, { prediction, zsnr: inputs.zsnr === true }) };
        return { outputs: [next] };
      },
    },
  ];
}
