// Offline graph optimization for cached CPU conversions. Creating a CPU session for a freshly
// built SD1.5 U-Net spends most of its time in ONNX Runtime's level-'all' optimizers (layout
// transforms, constant folding over 3.4 GB of weights): 128 s, against 13–18 s for the same
// graph saved after optimization (BENCHMARKS.md, issue 8). So a cache entry keeps the optimized
// graph, written once by ORT itself (SessionOptions.optimizedModelFilePath). Such a graph may
// hold hardware-specific layouts (NCHWc blocks), so the entry's key names the CPU, the
// architecture and the ORT version (`cpuOptimizationTarget`). `marble convert-checkpoint --out`
// keeps the portable graphs and never comes here.
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

/** What an optimized CPU graph is only valid for. */
export function cpuOptimizationTarget(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown cpu';
  return `ort ${ort.env.versions?.node ?? '?'} cpu ${process.arch} ${cpu}`;
}

const OPTIMIZED = 'model.optimized.onnx';
const OPTIMIZED_DATA = 'model.optimized.onnx_data';

async function sizeOf(file: string): Promise<number> {
  return (await fsp.stat(file).catch(() => undefined))?.size ?? 0;
}

/**
 * Replaces `<dir>/model.onnx` (+ model.onnx_data) by ORT's optimized graph with its weights in
 * `model.optimized.onnx_data`, the name the saved graph refers to.
 */
export async function optimizeModelForCpu(modelFile: string): Promise<void> {
  const dir = path.dirname(modelFile);
  const out = path.join(dir, OPTIMIZED);
  const options = {
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    optimizedModelFilePath: out,
    // ORT warns that an NCHWc graph is hardware specific; the cache key already says so.
    logSeverityLevel: 3,
    extra: { session: { optimized_model_external_initializers_file_name: OPTIMIZED_DATA, optimized_model_external_initializers_min_size_in_bytes: '1024' } },
  } as ort.InferenceSession.SessionOptions;
  const session = await ort.InferenceSession.create(modelFile, options);
  await session.release();
  if (!(await sizeOf(out))) throw new Error(`ONNX Runtime did not write the optimized graph ${out}`);
  await fsp.rm(path.join(dir, 'model.onnx_data'), { force: true });
  await fsp.rename(out, modelFile);
}

/** Optimizes every component of a converted folder; progress by the components' weight bytes. */
export async function optimizeFolderForCpu(dir: string, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<void> {
  const models: { file: string; bytes: number }[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, e.name, 'model.onnx');
    if (e.isDirectory() && (await sizeOf(file))) models.push({ file, bytes: (await sizeOf(file)) + (await sizeOf(path.join(dir, e.name, 'model.onnx_data'))) });
  }
  const total = models.reduce((n, m) => n + m.bytes, 0) || 1;
  let done = 0;
  for (const m of models) {
    signal?.throwIfAborted();
    await optimizeModelForCpu(m.file);
    done += m.bytes;
    onProgress(done / total);
  }
}
