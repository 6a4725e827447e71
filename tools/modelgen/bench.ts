// Times one U-Net step (CFG batch 2 and batch 1), the text encoder and the VAE decoder of a
// model folder on the chosen EP: npx tsx tools/modelgen/bench.ts DIR [--latent 64] [--ep cpu] [--runs 5]
import { parseArgs } from 'node:util';
import { loadModelFolder } from '../../src/inference/models';
import { isEpSetting } from '../../src/inference/ort/executionProviders';
import { SessionCache } from '../../src/inference/ort/sessionCache';
import type { Tensor } from '../../src/inference/tensor';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { latent: { type: 'string', default: '64' }, ep: { type: 'string', default: 'cpu' }, runs: { type: 'string', default: '5' } } });
  const dir = positionals[0];
  if (!dir) throw new Error('usage: bench.ts MODEL_DIR [--latent 64] [--ep auto|cpu|webgpu|cuda] [--runs 5]');
  if (!isEpSetting(values.ep)) throw new Error(`--ep: unknown execution provider '${values.ep}'`);
  const n = Number(values.latent);
  const runs = Number(values.runs);
  const cache = new SessionCache({ ep: values.ep });
  const t0 = performance.now();
  const m = await loadModelFolder(dir, cache);
  console.log(`load (4 sessions): ${(performance.now() - t0).toFixed(0)} ms, EPs: ${Object.entries(m.io).map(([k, v]) => `${k}=${v!.ep}`).join(' ')}`);
  const ch = m.description.unetInChannels ?? 4;
  const rand = (shape: number[]): Tensor => ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.random() * 2 - 1), shape });
  const ids = { ints: new Int32Array(2 * 77).fill(49407).map((v, i) => (i % 77 === 0 ? 49406 : i % 77 < 6 ? 320 + i : v)), shape: [2, 77] };
  const time = async (label: string, fn: () => Promise<unknown>) => {
    await fn(); // warm-up: first run allocates and picks kernels
    const s = performance.now();
    for (let i = 0; i < runs; i++) await fn();
    console.log(`${label}: ${((performance.now() - s) / runs).toFixed(1)} ms/run`);
  };
  const ehs = (await m.textEncoder!.run({ input_ids: ids }, ['last_hidden_state'])).last_hidden_state;
  await time('text_encoder [2,77]', () => m.textEncoder!.run({ input_ids: ids }, ['last_hidden_state']));
  const one: Tensor = { data: ehs.data.slice(0, ehs.data.length / 2), shape: [1, 77, ehs.shape[2]] };
  await time(`unet step batch 2 (CFG) latent ${n}x${n}`, () => m.unet.run({ sample: rand([2, ch, n, n]), timestep: { timestep: 500 }, encoder_hidden_states: ehs }));
  await time(`unet step batch 1 latent ${n}x${n}`, () => m.unet.run({ sample: rand([1, ch, n, n]), timestep: { timestep: 500 }, encoder_hidden_states: one }));
  await time(`vae_decoder -> ${n * 8}x${n * 8}`, () => m.vaeDecoder!.run({ latent_sample: rand([1, 4, n, n]) }));
  await cache.freeAll();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
