// U-Net step time of a checkpoint-built (src/inference/checkpoint/build) SD1.5 U-Net on the CPU EP:
// one CFG step = one batch-2 run, as the sampler calls it. Compares attention kernels when given
// several U-Nets. Run (after the parity test has converted the reference checkpoint):
//   node --import tsx bench/checkpointUnet.bench.ts --unet ~/.cache/marble-test/models/checkpoints/marble-random-sd15-s1/unet/model.onnx \
//     [--unet other/model.onnx] [--size 256] [--runs 3]
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { machineInfo, median } from './report';

const { values } = parseArgs({ options: { unet: { type: 'string', multiple: true }, size: { type: 'string', default: '256' }, runs: { type: 'string', default: '3' } } });
const size = Number(values.size);
const runs = Number(values.runs);
const lat = size / 8;

async function main(): Promise<void> {
  const m = machineInfo();
  console.log(`${new Date().toISOString()} · ${m.cpus} CPUs ${m.cpuModel}, ${m.ramGiB} GiB, Node ${m.node}; ${size}² (latent ${lat}²), batch 2 (CFG), ${runs} timed runs after 1 warm-up`);
  for (const file of values.unet ?? []) {
    const t0 = performance.now();
    const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
    const create = performance.now() - t0;
    const feeds = {
      sample: new ort.Tensor('float32', Float32Array.from({ length: 2 * 4 * lat * lat }, (_, i) => Math.sin(i * 0.1)), [2, 4, lat, lat]),
      timestep: new ort.Tensor('float32', Float32Array.from([500, 500]), [2]),
      encoder_hidden_states: new ort.Tensor('float32', Float32Array.from({ length: 2 * 77 * 768 }, (_, i) => Math.cos(i * 0.01)), [2, 77, 768]),
    };
    await s.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await s.run(feeds);
      times.push(performance.now() - t);
    }
    console.log(`${file}: session ${(create / 1000).toFixed(1)} s; step median ${(median(times) / 1000).toFixed(2)} s (${times.map((t) => (t / 1000).toFixed(2)).join(', ')}); rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`);
    await s.release();
  }
}

void main();
