// Runs the ComfyUI reference cases (test/fixtures/comfyui-reference/sd15/cases) through the real
// engine (node registry, samplers, executor) and compares with what ComfyUI computed.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tensor } from '../../../src/inference/tensor';
import type { ApiPrompt } from '../../../src/workflow/types';
import type { CheckpointConfig } from '../../../tools/refgen/layout';
import { readNpyFloat32 } from '../../../tools/refgen/npy';
import { writeOnnxFolder } from '../../../tools/refgen/onnxFolder';
import { captureNode, Pipeline, repoRoot } from '../pipeline/harness';

export const CASES_DIR = path.join(repoRoot, 'test/fixtures/comfyui-reference/sd15/cases');

export interface CaseOutputs {
  latent: Tensor;
  image: Tensor;
  cond: Tensor;
}

export interface CaseRun {
  pipeline: Pipeline;
  run(caseName: string, ckptName: string): Promise<CaseOutputs>;
}

/** A pipeline over `base` (ComfyUI-like workspace) with capture nodes for LATENT, IMAGE and CONDITIONING. */
export function caseRunner(base: string, modelsRoot: string): CaseRun {
  const captured: Record<string, unknown> = {};
  const pipeline = new Pipeline(base, {
    extraNodes: ['LATENT', 'IMAGE', 'CONDITIONING'].map((t) => captureNode(t, (v) => (captured[t] = v))),
  });
  (pipeline.cfg as { modelsRoots: string[] }).modelsRoots = [modelsRoot];
  return {
    pipeline,
    async run(caseName, ckptName) {
      const spec = JSON.parse(fs.readFileSync(path.join(CASES_DIR, `${caseName}.json`), 'utf8')) as { prompt: ApiPrompt; input?: string[] };
      for (const f of spec.input ?? []) fs.copyFileSync(path.join(CASES_DIR, f), path.join(base, 'input', f));
      const prompt = structuredClone(spec.prompt);
      prompt['4'].inputs.ckpt_name = ckptName;
      prompt['100'] = { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } };
      prompt['101'] = { class_type: 'TestCaptureIMAGE', inputs: { value: ['8', 0] } };
      prompt['102'] = { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['6', 0] } };
      const result = await pipeline.run(prompt);
      if (!result.validation.ok) throw new Error(`${caseName}: prompt rejected: ${JSON.stringify(result.validation)}`);
      if (result.outcome.status !== 'success') throw new Error(`${caseName}: run failed: ${JSON.stringify(result.outcome).slice(0, 2000)}`);
      const latent = (captured.LATENT as { samples: Tensor }).samples;
      const image = captured.IMAGE as Tensor;
      const cond = (captured.CONDITIONING as [Tensor, unknown][])[0][0];
      return { latent, image, cond };
    },
  };
}

export function reference(caseName: string, array: string): { shape: number[]; data: Float32Array } {
  return readNpyFloat32(path.join(CASES_DIR, caseName, `${array}.npy`));
}

export interface DiffStats {
  maxAbs: number;
  meanAbs: number;
  /** ‖a − b‖ / ‖b‖. */
  relL2: number;
}

export function diffStats(a: ArrayLike<number>, b: ArrayLike<number>): DiffStats {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  let sum = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    sum += d;
    num += d * d;
    den += b[i] * b[i];
  }
  return { maxAbs: max, meanAbs: sum / a.length, relL2: Math.sqrt(num / (den || 1)) };
}

/** Marble's 8-bit pixels (as SaveImage stores them: clip(255·x) truncated, like ComfyUI) against ComfyUI's float image × 255. */
export function pixelStats(image: ArrayLike<number>, refFloat: ArrayLike<number>): { within1: number; maxLevels: number; meanLevels: number } {
  let within = 0;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < refFloat.length; i++) {
    const v = image[i] * 255;
    const px = v >= 255 ? 255 : v > 0 ? Math.trunc(v) : 0;
    const d = Math.abs(px - refFloat[i] * 255);
    if (d <= 1) within++;
    if (d > max) max = d;
    sum += d;
  }
  return { within1: within / refFloat.length, maxLevels: max, meanLevels: sum / refFloat.length };
}

/** Hash of the network builder sources: a converted folder is rebuilt whenever they change. */
export function builderFingerprint(): string {
  const h = createHash('sha256');
  for (const dir of ['src/inference/checkpoint/build', 'src/inference/onnx']) {
    for (const f of fs.readdirSync(path.join(repoRoot, dir)).sort()) h.update(f).update(fs.readFileSync(path.join(repoRoot, dir, f)));
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * `<modelsRoot>/checkpoints/<name>/` converted from `ckptFile`, reused while its stamp matches the
 * builder sources; built in a temp folder and renamed into place.
 */
export async function ensureConvertedFolder(ckptFile: string, modelsRoot: string, name: string, cfg: CheckpointConfig | 'detect', log: (m: string) => void = () => undefined): Promise<string> {
  const dir = path.join(modelsRoot, 'checkpoints', name);
  const stampFile = path.join(dir, 'marble-refgen-folder.json');
  const st = fs.statSync(ckptFile);
  const stamp = JSON.stringify({ builder: builderFingerprint(), size: st.size, mtimeMs: st.mtimeMs });
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const t = performance.now();
  const times = await writeOnnxFolder(ckptFile, tmp, cfg);
  log(`converted ${path.basename(ckptFile)} in ${((performance.now() - t) / 1000).toFixed(1)} s (${Object.entries(times).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')})`);
  fs.writeFileSync(path.join(tmp, 'marble-refgen-folder.json'), stamp);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(tmp, dir);
  return dir;
}
