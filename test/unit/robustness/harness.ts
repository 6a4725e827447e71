// Shared set-up for the robustness tests: the real inference child (bundled once per process),
// a ComfyUI-style workspace with generated tiny models, some of them deliberately broken, and
// helpers that bound every run in time and check the output folder for half-written files.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { run as runCommand } from '../../../src/cli/commands/run';
import type { CliIO } from '../../../src/cli/io';
import type { ApiPrompt } from '../../../src/workflow/types';
import { generateModelFolder } from '../../../tools/modelgen/writeModelFolder';
import { bundle, repoRoot } from '../inference/helpers';

export { repoRoot };
export const CKPT = 'v1-5-pruned-emaonly-fp16';

let entry: Promise<string> | undefined;
const buildDir = path.join(repoRoot, 'node_modules', '.cache', 'marble-tests', `robustness-${process.pid}`);

/** dist/inference.js built from the current sources (inside the repo so sharp/ORT resolve). */
export async function inferenceEntry(): Promise<string> {
  entry ??= (async () => {
    fs.mkdirSync(buildDir, { recursive: true });
    return bundle(path.join(repoRoot, 'src/inference/main.ts'), buildDir);
  })();
  const file = await entry;
  process.env.MARBLE_INFERENCE_ENTRY = file;
  return file;
}

export function removeBundle(): void {
  delete process.env.MARBLE_INFERENCE_ENTRY;
  fs.rmSync(buildDir, { recursive: true, force: true });
  entry = undefined;
}

export interface Workspace {
  base: string;
  models: string;
  input: string;
  output: string;
  remove(): void;
}

/**
 * models/checkpoints/ holds the good default model plus `corrupt` (unet truncated to 100 bytes),
 * `wrongio` (the U-Net's `timestep` input renamed) and `noext` (external weights file deleted).
 */
export function makeWorkspace(): Workspace {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-robust-'));
  const models = path.join(base, 'models');
  const ck = (name: string) => path.join(models, 'checkpoints', name);
  generateModelFolder(ck(CKPT), { size: 'tiny', variant: 'fp32', seed: 1 });
  fs.cpSync(ck(CKPT), ck('corrupt'), { recursive: true });
  fs.truncateSync(path.join(ck('corrupt'), 'unet', 'model.onnx'), 100);
  fs.cpSync(ck(CKPT), ck('wrongio'), { recursive: true });
  renameGraphInput(path.join(ck('wrongio'), 'unet', 'model.onnx'), 'timestep', 'time_step');
  generateModelFolder(ck('noext'), { size: 'tiny', variant: 'external-data', seed: 1 });
  fs.rmSync(path.join(ck('noext'), 'unet', 'model.onnx_data'));
  const input = path.join(base, 'input');
  const output = path.join(base, 'output');
  fs.mkdirSync(input);
  fs.mkdirSync(output);
  return { base, models, input, output, remove: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** Renames a graph input and every node input that reads it, as a differently exported model would. */
export function renameGraphInput(file: string, from: string, to: string): void {
  const model = onnx.ModelProto.decode(fs.readFileSync(file));
  const graph = model.graph!;
  const input = (graph.input ?? []).find((i) => i.name === from);
  assert.ok(input, `${file} has no input ${from}`);
  input.name = to;
  for (const node of graph.node ?? []) node.input = (node.input ?? []).map((n) => (n === from ? to : n));
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
}

/** ComfyUI's default prompt, made small: 64×64, 2 steps. */
export function defaultPrompt(mutate?: (p: ApiPrompt) => void): ApiPrompt {
  const p = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/fixtures/workflow/default_prompt_api.json'), 'utf8')) as ApiPrompt;
  Object.assign(p['3'].inputs, { steps: 2 });
  Object.assign(p['5'].inputs, { width: 64, height: 64 });
  p['9'].inputs.filename_prefix = 'Robust';
  mutate?.(p);
  return p;
}

export function captureIO(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

/** Rejects after `ms` so a hang fails the test with a name instead of a mocha timeout. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** `marble run` in-process with captured output, bounded in time. */
export async function cliRun(argv: string[], ms = 20000): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIO();
  const code = await within(runCommand(argv, io), ms, `marble run ${argv.join(' ')}`);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** Every file under `dir`, relative. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name)))
    .sort();
}

const PNG_END = Buffer.from([0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/** No temp files, and every file is a complete `<prefix>_NNNNN_.png` (signature through IEND). */
export function assertNoPartialFiles(dir: string): string[] {
  const files = listFiles(dir);
  for (const f of files) {
    assert.ok(!/\.tmp$|^\.|[\\/]\./.test(f), `half-written or temp file left in ${dir}: ${f}`);
    assert.match(path.basename(f), /_\d{5}_\.png$/, `unexpected file in ${dir}: ${f}`);
    const bytes = fs.readFileSync(path.join(dir, f));
    assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) && bytes.subarray(-8).equals(PNG_END), `${f} is not a complete PNG`);
  }
  return files;
}

/** Writes `prompt` as an API JSON file in the workspace and returns its path. */
export function writePrompt(ws: Workspace, name: string, prompt: unknown): string {
  const file = path.join(ws.base, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(prompt));
  return file;
}
