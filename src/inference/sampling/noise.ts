// torch.randn on the CPU, bit for bit (x86-64, AVX2 kernel), and the noise ComfyUI builds from it.
//
// PyTorch's normal_kernel (aten/src/ATen/native/cpu/DistributionTemplates.h) has two paths for a
// float32 tensor:
// * numel ≥ 16 (contiguous): fill ALL elements with float32 uniforms first, then Box–Muller in place
//   in blocks of 16 — lanes j and j+8 form a pair: u1 = 1 − data[j], u2 = data[j+8],
//   r = sqrt(−2·log u1), θ = 2π·u2, data[j] = r·cos θ, data[j+8] = r·sin θ — all float32 with the
//   AVX2 polynomial log/sincos (float32Math.ts). If numel is not a multiple of 16, 16 FRESH uniforms
//   are drawn into the last 16 slots and that block is transformed again (it overlaps the previous
//   block), so the tail is not a prefix of a longer draw.
// * numel < 16: one normal_distribution<double> per element, cast to float32, with the generator's
//   cached second value carried across calls.
// Caveat: where PyTorch's CPU dispatch picks its AVX-512 (or no-AVX2) kernel, the generic
// normal_fill runs instead, with libm logf/cosf/sinf. kernel: 'generic' approximates that path with
// correctly rounded float32 log/cos/sin; glibc's float functions are not always correctly rounded,
// so that variant is close but not guaranteed bit-exact. The AVX2 path is the default.

import { sincosf32Avx, logf32Avx } from './float32Math';
import { offsetSeed, TorchCpuGenerator, type Seed } from './torchGenerator';

const TWO_PI_F32 = Math.fround(2 * Math.PI);

function checkShape(shape: readonly number[], what: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${what}: shape must be non-negative integers, got [${shape.join(', ')}]`);
    }
    n *= d;
  }
  return n;
}

/** Box–Muller over one block of 16 uniforms, in place (normal_fill_16_AVX2 with mean 0, std 1). */
function normalFill16(data: Float32Array, offset: number, sc: Float64Array): void {
  for (let j = 0; j < 8; j++) {
    const u1 = Math.fround(1 - data[offset + j]);
    const u2 = data[offset + j + 8];
    const radius = Math.fround(Math.sqrt(Math.fround(-2 * logf32Avx(u1))));
    sincosf32Avx(Math.fround(TWO_PI_F32 * u2), sc);
    // fmadd(n, std=1, mean=0) is exact except that it turns −0 into +0.
    data[offset + j] = Math.fround(radius * sc[1]) + 0;
    data[offset + j + 8] = Math.fround(radius * sc[0]) + 0;
  }
}

/** normal_fill_16 (generic kernel): float32 with libm-style float log/cos/sin. */
function normalFill16Generic(data: Float32Array, offset: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = Math.fround(1 - data[offset + j]);
    const u2 = data[offset + j + 8];
    const radius = Math.fround(Math.sqrt(Math.fround(-2 * Math.fround(Math.log(u1)))));
    const theta = Math.fround(2 * Math.PI * u2); // 2.0f * pi<double> * u2 is evaluated in double
    data[offset + j] = Math.fround(radius * Math.fround(Math.cos(theta))) + 0;
    data[offset + j + 8] = Math.fround(radius * Math.fround(Math.sin(theta))) + 0;
  }
}

/** Which PyTorch CPU kernel to reproduce for tensors of 16 or more elements. */
export type RandnKernel = 'avx2' | 'generic';

/** torch.randn(shape, generator=gen) for float32 on the CPU; advances gen like PyTorch does. */
export function randn(gen: TorchCpuGenerator, shape: readonly number[], kernel: RandnKernel = 'avx2'): Float32Array {
  const n = checkShape(shape, 'randn');
  const out = new Float32Array(n);
  if (n >= 16) {
    for (let i = 0; i < n; i++) out[i] = gen.uniformFloat();
    const sc = new Float64Array(2);
    const fill = kernel === 'avx2' ? (o: number) => normalFill16(out, o, sc) : (o: number) => normalFill16Generic(out, o);
    for (let i = 0; i + 16 <= n; i += 16) fill(i);
    if (n % 16 !== 0) {
      const start = n - 16;
      for (let i = 0; i < 16; i++) out[start + i] = gen.uniformFloat();
      fill(start);
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = gen.normalDouble();
  }
  return out;
}

/** torch.manual_seed(seed); torch.randn(shape). */
export function randnFromSeed(seed: Seed, shape: readonly number[], kernel: RandnKernel = 'avx2'): Float32Array {
  return randn(new TorchCpuGenerator(seed), shape, kernel);
}

/**
 * ComfyUI's comfy.sample.prepare_noise: the initial noise for a latent of `shape` [B, ...].
 * Without batchIndex the whole batch is one randn call. With batchIndex (latents that came from
 * LatentFromBatch / RepeatLatentBatch) one [1, ...] sample is drawn per index 0..max(batchIndex) in
 * sequence from the same generator and the listed ones are picked, repeats allowed.
 */
export function prepareNoise(seed: Seed, shape: readonly number[], batchIndex?: readonly number[]): Float32Array {
  const total = checkShape(shape, 'prepareNoise');
  const gen = new TorchCpuGenerator(seed);
  if (!batchIndex) return randn(gen, shape);
  if (shape.length === 0) throw new Error('prepareNoise: a latent shape needs a batch dimension');
  const batch = shape[0];
  if (batchIndex.length !== batch) {
    throw new Error(`prepareNoise: batch_index has ${batchIndex.length} entries but the latent batch is ${batch}`);
  }
  const itemShape = [1, ...shape.slice(1)];
  const itemSize = batch === 0 ? 0 : total / batch;
  let maxIndex = -1;
  for (const b of batchIndex) {
    if (!Number.isInteger(b) || b < 0) throw new Error(`prepareNoise: batch_index entries must be non-negative integers, got ${b}`);
    if (b > maxIndex) maxIndex = b;
  }
  const wanted = new Set(batchIndex);
  const drawn = new Map<number, Float32Array>();
  for (let i = 0; i <= maxIndex; i++) {
    const sample = randn(gen, itemShape);
    if (wanted.has(i)) drawn.set(i, sample);
  }
  // np.unique + inverse reorders by sorted index and maps back, i.e. entry k gets draw batchIndex[k].
  const out = new Float32Array(total);
  batchIndex.forEach((b, k) => out.set(drawn.get(b)!, k * itemSize));
  return out;
}

/** Per-step noise for ancestral / SDE samplers: called with the step's (sigma, sigmaNext). */
export type NoiseSampler = (sigma: number, sigmaNext: number) => Float32Array;

/**
 * ComfyUI's default_noise_sampler for a CPU tensor: a generator seeded with seed+1 and a fresh
 * randn of the latent's full shape per call. (On a CUDA device ComfyUI seeds with `seed` and the
 * CUDA generator's stream, which cannot be reproduced here; this matches ComfyUI run with --cpu.)
 */
export function defaultNoiseSampler(shape: readonly number[], seed: Seed): NoiseSampler {
  const gen = new TorchCpuGenerator(offsetSeed(seed, 1));
  const frozen = [...shape];
  return () => randn(gen, frozen);
}

/**
 * The random inpaint noise used by the `ddim` sampler (KSAMPLER inpaint_options random=True):
 * torch.manual_seed(seed + 1); randn(shape).
 */
export function inpaintRandomNoise(shape: readonly number[], seed: Seed): Float32Array {
  return randnFromSeed(offsetSeed(seed, 1), shape);
}
