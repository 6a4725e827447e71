// How fast the safetensors reader and detection get a full checkpoint's weights into float32,
// and how much memory that takes: one canonical weight at a time, as the graph builders read them.
// Usage: node --import tsx bench/safetensorsRead.bench.ts <file.safetensors>
// (the ComfyUI reference SD1.5 checkpoint is what the numbers in BENCHMARKS.md were taken on).
import * as os from 'node:os';
import { detectCheckpoint } from '../src/inference/checkpoint/detect';
import { SafetensorsFile } from '../src/inference/safetensors/read';

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: bench/safetensorsRead.bench.ts <file.safetensors>');
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const st = await SafetensorsFile.open(file);
  const tOpen = performance.now() - t0;
  const t1 = performance.now();
  const d = detectCheckpoint(st);
  const tDetect = performance.now() - t1;
  // Raw bytes alone (no conversion): what an fp16 build that keeps F16 weights would pay.
  const tRaw0 = performance.now();
  let rawBytes = 0;
  for (const name of st.tensors.keys()) rawBytes += (await st.readRaw(name)).length;
  const tRaw = performance.now() - tRaw0;
  let values = 0;
  let largest = 0;
  const t2 = performance.now();
  for (const part of [d.unet, d.clip, d.vae]) {
    if (!part) continue;
    for (const name of part.weights.names()) {
      const w = await part.weights.float32(name);
      values += w.length;
      largest = Math.max(largest, w.length);
    }
  }
  const tRead = performance.now() - t2;
  await st.close();
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const mb = (n: number) => (n / 1024 ** 2).toFixed(0);
  console.log(`safetensors read bench — ${new Date().toISOString()}`);
  console.log(`machine: ${os.cpus().length} CPUs, ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`);
  console.log(`file: ${file} (${mb(st.size)} MB, ${st.tensors.size} tensors, family ${d.family}, ${d.ignored.length} ignored)`);
  console.log(`open + validate header: ${tOpen.toFixed(1)} ms; detect: ${tDetect.toFixed(1)} ms`);
  console.log(`read all tensors' raw bytes: ${(tRaw / 1000).toFixed(2)} s (${mb(rawBytes)} MB, ${(rawBytes / 1024 ** 2 / (tRaw / 1000)).toFixed(0)} MB/s)`);
  console.log(`load average during the run: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`read all weights to float32: ${(tRead / 1000).toFixed(2)} s for ${values.toLocaleString('en')} values (${mb(values * 4)} MB fp32, ${((values * 4) / 1024 ** 2 / (tRead / 1000)).toFixed(0)} MB/s)`);
  console.log(`largest tensor: ${mb(largest * 4)} MB fp32; RSS before ${mb(rssBefore)} MB, peak ${mb(peakRss)} MB`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
