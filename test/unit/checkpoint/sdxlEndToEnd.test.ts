// SDXL base and refiner `.safetensors` checkpoints (small, generated in ComfyUI's full SDXL key
// layout) through `marble run`: ComfyUI's default workflow on the base, and ComfyUI's own
// sdxl_simple_example.png (base → refiner hand-off with KSamplerAdvanced) and sdxlturbo_example.png
// workflows with their checkpoint names resolving to the generated files.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../../src/cli/commands/run';
import type { CliIO } from '../../../src/cli/io';
import { writeRuleEntries } from '../../../tools/refgen/generate';
import { SDXL_BASE_SMALL, SDXL_REFINER_SMALL, sdxlCheckpointTensors } from '../../../tools/refgen/sdxlLayout';
import { bundle, repoRoot, tempDir } from '../inference/helpers';

function captureIO(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  return io;
}

const WORKFLOW = path.join(repoRoot, 'resources', 'workflows', 'default.workflow.json');
const EXAMPLES = path.join(repoRoot, 'test', 'fixtures', 'comfyui', 'examples');

describe('SDXL checkpoints through marble run', function () {
  this.timeout(600_000);
  const tmp = tempDir('marble-sdxl-run-');
  const buildDir = path.join(repoRoot, 'node_modules', '.cache', 'marble-tests');
  const models = path.join(tmp.dir, 'models');
  const ckpts = path.join(models, 'checkpoints');
  const cacheDir = path.join(tmp.dir, 'cache');
  const output = path.join(tmp.dir, 'output');
  let outDir: string;

  before(async () => {
    mkdirSync(buildDir, { recursive: true });
    outDir = mkdtempSync(path.join(buildDir, 'sdxl-'));
    process.env.MARBLE_INFERENCE_ENTRY = await bundle(path.join(repoRoot, 'src/inference/main.ts'), outDir);
    mkdirSync(ckpts, { recursive: true });
    await writeRuleEntries(path.join(ckpts, 'sd_xl_base_1.0.safetensors'), sdxlCheckpointTensors(SDXL_BASE_SMALL), 5);
    await writeRuleEntries(path.join(ckpts, 'sd_xl_refiner_1.0.safetensors'), sdxlCheckpointTensors(SDXL_REFINER_SMALL), 6);
    await writeRuleEntries(path.join(ckpts, 'sd_xl_turbo_1.0_fp16.safetensors'), sdxlCheckpointTensors(SDXL_BASE_SMALL), 7);
  });
  after(() => {
    delete process.env.MARBLE_INFERENCE_ENTRY;
    rmSync(outDir, { recursive: true, force: true });
    tmp.remove();
  });

  const runWith = async (workflow: string, sets: string[]) => {
    const io = captureIO();
    const code = await run([workflow, '--models', models, '--cache', cacheDir, '--output', output, '--ep', 'cpu', '--json', ...sets.flatMap((s) => ['--set', s])], io);
    const lines = io.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    return { code, io, lines, result: lines.at(-1)!.data };
  };
  const isPng = (file: string) => readFileSync(file).subarray(1, 4).toString() === 'PNG';
  /** PNG width × height from the IHDR chunk. */
  const pngSize = (file: string) => {
    const b = readFileSync(file);
    return [b.readUInt32BE(16), b.readUInt32BE(20)];
  };
  const progressNodes = (lines: { type: string; data: Record<string, unknown> }[]) => new Set(lines.filter((l) => l.type === 'progress').map((l) => String(l.data.node)));

  it('runs the default workflow (CLIPTextEncode on the SDXL CLIP) on a converted SDXL base', async () => {
    const r = await runWith(WORKFLOW, ['4.ckpt_name=sd_xl_base_1.0.safetensors', '5.width=64', '5.height=64', '3.steps=2', '3.seed=3']);
    assert.equal(r.code, 0, `${r.io.stderr}\n${JSON.stringify(r.result)}`);
    const images = r.result.images as string[];
    assert.equal(images.length, 1);
    assert.ok(isPng(images[0]));
  });

  it("runs ComfyUI's sdxl_simple_example.png unchanged: base → refiner hand-off at 1024×1024", async () => {
    const t = performance.now();
    const r = await runWith(path.join(EXAMPLES, 'sdxl_simple_example.png'), []);
    assert.equal(r.code, 0, `${r.io.stderr}\n${JSON.stringify(r.result)}`);
    const images = r.result.images as string[];
    assert.equal(images.length, 1);
    assert.deepEqual(pngSize(images[0]), [1024, 1024]);
    // The refiner converted here (the base is cached from the test before) and both samplers stepped.
    for (const node of ['12', '10', '11']) assert.ok(progressNodes(r.lines).has(node), `progress on node ${node}`);
    const conversions = r.lines.filter((l) => l.type === 'conversion' && l.data.state === 'done').map((l) => l.data.name);
    assert.deepEqual(conversions, ['sd_xl_refiner_1.0.safetensors']);
    console.log(`      sdxl_simple_example: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  });

  it("runs ComfyUI's sdxlturbo_example.png unchanged: SDTurboScheduler, SamplerCustom, 512×512", async () => {
    // marble run puts PreviewImage files in ./temp: run from the test's folder, not the repository.
    const cwd = process.cwd();
    process.chdir(tmp.dir);
    const r = await runWith(path.join(EXAMPLES, 'sdxlturbo_example.png'), []).finally(() => process.chdir(cwd));
    assert.equal(r.code, 0, `${r.io.stderr}\n${JSON.stringify(r.result)}`);
    // PreviewImage writes to the temp folder; the run reports it as an image all the same.
    const images = r.result.images as string[];
    assert.equal(images.length, 1);
    assert.deepEqual(pngSize(images[0]), [512, 512]);
    assert.ok(images[0].startsWith(tmp.dir), images[0]);
    assert.ok(progressNodes(r.lines).has('13'), 'the sampler stepped');
  });
});
