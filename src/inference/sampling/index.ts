// Public surface of the sampling library (pure TypeScript: no onnxruntime, no Node I/O).

export { TorchCpuGenerator, toSeed, offsetSeed, TORCH_DEFAULT_SEED, type Seed } from './torchGenerator';
export { randn, randnFromSeed, prepareNoise, defaultNoiseSampler, inpaintRandomNoise, type NoiseSampler, type RandnKernel } from './noise';
export { BrownianNoiseSampler } from './brownianNoise';
export {
  ModelSampling, createModelSampling, makeBetas, rescaleZeroTerminalSnrSigmas, SD_SCHEDULE,
  type DiscreteScheduleConfig, type ModelSamplingOptions, type PredictionType,
} from './modelSampling';
export {
  SCHEDULER_NAMES, DISCARD_PENULTIMATE_SIGMA_SAMPLERS, calculateSigmas, ksamplerSigmas, denoisedSigmas, sliceSigmas,
  sdTurboSigmas, sigmasKarras, sigmasExponential, sigmasKlOptimal, betaScheduler, splitSigmas, splitSigmasDenoise,
  type SchedulerName,
} from './schedulers';
export { SUPPORTED_SAMPLERS, STOCHASTIC_SAMPLERS, getSampler } from './samplers/registry';
export type { Denoiser, SamplerFn, SamplerOptions, StepInfo } from './samplers/types';
export { createCfgDenoiser, createInpaintDenoiser, isClose, type ModelCall, type ModelCallInput, type CfgDenoiserOptions, type InpaintOptions } from './cfg';
export { ksample, type KSampleRequest } from './ksampler';
export { latentToRgb, SD15_LATENT_RGB, SDXL_LATENT_RGB, type Latent2RgbFactors, type RgbImage } from './preview';
