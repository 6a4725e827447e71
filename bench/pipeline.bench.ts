// End-to-end pipeline benchmark on the MEDIUM generated SD1.x model: the default workflow in one
// process (Executor + registry + ModelServices, as the inference child runs it), with ORT's own
// time separated from Marble's. Run: node --import tsx bench/pipeline.bench.ts [--steps 20]
// [--size 512] [--no-spin] [--write BENCHMARKS.md]   (or npm run bench, which goes through bench/run.mjs)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { encodePreviewPng } from '../src/inference/image/previewPng';
import { ModelServices } from '../src/inference/nodes/modelServices';
import { createNodeRegistry } from '../src/inference/nodes/registry';
import { defaultRuntimeConfig } from '../src/inference/nodes/runtimeConfig';
import { SessionCache } from '../src/inference/ort/sessionCache';
import { latentToRgb, SD15_LATENT_RGB } from '../src/inference/sampling';
import type { ExecutionEvent } from '../src/workflow/events';
import { Executor } from '../src/workflow/executor';
import type { NodeContext, NodeDefinition } from '../src/workflow/nodeDefinition';
import type { ApiPrompt, UiWorkflow } from '../src/workflow/types';
import { uiToApi } from '../src/workflow/uiToApi';
import { validatePrompt } from '../src/workflow/validate';
import { buildObjectInfo } from '../src/inference/host/objectInfo';
import { generateModelFolder } from '../tools/modelgen/writeModelFolder';
import { Timeline, timedFactory, timeIoConversion } from './instrument';
import { formatReport, machineInfo, median, writeBenchmarksMd, type BenchResult } from './report';

const CKPT = 'v1-5-pruned-emaonly-fp16';

interface TimedEvent { at: number; e: ExecutionEvent }

/** One configured in-process backend whose every ORT call lands on `timeline`. */
function backend(base: string, timeline: Timeline, noSpin: boolean) {
  const cfg = { ...defaultRuntimeConfig(base), ep: 'cpu', previews: true };
  // --no-spin: ORT's intra-op threads otherwise spin after each run, competing with JS work.
  const sessionOptions = noSpin ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : undefined;
  const cache = new SessionCache({ ep: 'cpu', factory: timedFactory(timeline), sessionOptions });
  const services = new ModelServices(() => cfg, () => undefined, cache);
  const registry = new Map(createNodeRegistry(() => cfg, services));
  // SaveImage's inputs are kept so that SaveImage can be timed alone on the real 512² image.
  const save = registry.get('SaveImage')!;
  let lastSave: { inputs: Record<string, unknown>; ctx: NodeContext } | undefined;
  const recordingSave: NodeDefinition = { ...save, run: (inputs, ctx) => ((lastSave = { inputs, ctx }), save.run(inputs, ctx)) };
  registry.set('SaveImage', recordingSave);
  const executor = new Executor(registry);
  let n = 0;
  return {
    cfg, services, registry, executor, save, lastSave: () => lastSave,
    async run(prompt: ApiPrompt, workflow: UiWorkflow) {
      const v = await validatePrompt(prompt, registry);
      if (!v.ok) throw new Error(`validation failed: ${JSON.stringify(v.node_errors)}`);
      const events: TimedEvent[] = [];
      let previews = 0;
      const start = performance.now();
      const outcome = await executor.execute({
        promptId: `bench${++n}`, prompt: v.prompt, extraData: { extra_pnginfo: { workflow } },
        onEvent: (e) => events.push({ at: performance.now(), e }),
        onPreview: () => previews++,
      });
      const end = performance.now();
      if (outcome.status !== 'success') throw new Error(`run failed: ${outcome.error?.exception_message ?? outcome.status}`);
      return { start, end, events, previews, outcome };
    },
  };
}

/** Wall ms of each node that ran, from its `executing` event to the next one. */
function nodeTimes(events: TimedEvent[], end: number): Record<string, { start: number; end: number }> {
  const out: Record<string, { start: number; end: number }> = {};
  const starts = events.filter((t) => t.e.type === 'executing');
  starts.forEach((t, i) => {
    const node = (t.e.data as { node: string | null }).node;
    if (node !== null) out[node] = { start: t.at, end: starts[i + 1]?.at ?? end };
  });
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { steps: { type: 'string', default: '20' }, size: { type: 'string', default: '512' }, write: { type: 'string' }, 'no-spin': { type: 'boolean', default: false } } });
  const steps = Number(values.steps);
  const size = Number(values.size);
  const repo = path.resolve(__dirname, '..');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-bench-'));
  try {
    const g0 = performance.now();
    generateModelFolder(path.join(base, 'models/checkpoints', CKPT), { size: 'medium', variant: 'fp16', seed: 1 });
    generateModelFolder(path.join(base, 'models/checkpoints/medium-fp16-io'), { size: 'medium', variant: 'fp16-io', seed: 1 });
    const genMs = performance.now() - g0;

    const timeline = new Timeline();
    const undoIo = timeIoConversion(timeline);
    const be = backend(base, timeline, values['no-spin'] === true);
    const workflow = JSON.parse(fs.readFileSync(path.join(repo, 'resources/workflows/default.workflow.json'), 'utf8')) as UiWorkflow;
    const c0 = performance.now();
    const { prompt } = uiToApi(workflow, await buildObjectInfo(be.registry, be.cfg));
    const convertMs = performance.now() - c0;
    Object.assign(prompt['5'].inputs, { width: size, height: size });
    prompt['3'].inputs.steps = steps;

    // (a) cold run: sessions are created inside it, as on a user's first Generate.
    const r1 = await be.run(prompt, workflow);
    const wall1 = r1.end - r1.start;
    const ort1 = timeline.total({ kind: 'create' }, r1.start, r1.end) + timeline.total({ kind: 'run' }, r1.start, r1.end);
    const nodes1 = nodeTimes(r1.events, r1.end);
    const ks = nodes1['3'];
    const cold = stepLoop(r1.events, timeline);
    const unetStep = timeline.total({ kind: 'run', component: 'unet' }, ks.start, ks.end) / steps;
    const convertStep = timeline.total({ kind: 'convert', component: 'unet' }, ks.start, ks.end) / steps;

    // (b) only the seed changes: loader and both prompts come from the cache.
    prompt['3'].inputs.seed = Number(prompt['3'].inputs.seed) + 1;
    const r2 = await be.run(prompt, workflow);
    const warm = stepLoop(r2.events, timeline);
    const nodes2 = nodeTimes(r2.events, r2.end);
    const part = (id: string) => nodes2[id] ? nodes2[id].end - nodes2[id].start : 0;

    // (c) SaveImage alone on the decoded 512² image: encode + tEXt chunks + atomic write.
    const last = be.lastSave()!;
    const saves: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      await be.save.run(last.inputs, last.ctx);
      saves.push(performance.now() - t);
    }

    // Preview cost, measured on its own: latent → RGB + PNG (as the sampler callback does).
    const latent = Float32Array.from({ length: 4 * (size / 8) ** 2 }, (_, i) => Math.sin(i));
    const previewMs = median(await repeat(9, async () => {
      const rgb = latentToRgb(latent, [1, 4, size / 8, size / 8], SD15_LATENT_RGB, 0);
      encodePreviewPng(rgb, 512); // as the sampler does
    }));

    // The step loop again with previews off, to separate their cost from the rest of the JS.
    be.cfg.previews = false;
    prompt['3'].inputs.seed = Number(prompt['3'].inputs.seed) + 1;
    prompt['3'].inputs.steps = 6;
    const r4 = await be.run(prompt, workflow);
    const noPreview = stepLoop(r4.events, timeline);
    be.cfg.previews = true;

    // fp16 IO: the same medium U-Net with float16 inputs/outputs, a few steps for the conversion cost.
    prompt['4'].inputs.ckpt_name = 'medium-fp16-io.safetensors';
    prompt['3'].inputs.steps = 4;
    const r3 = await be.run(prompt, workflow);
    const ks3 = nodeTimes(r3.events, r3.end)['3'];
    const convertStepFp16 = timeline.total({ kind: 'convert', component: 'unet' }, ks3.start, ks3.end) / 4;
    undoIo();
    await be.services.free();

    const result: BenchResult = {
      machine: machineInfo(), date: new Date().toISOString(), steps, size, genMs, convertMs,
      a: {
        wallMs: wall1, ortMs: ort1, ratio: wall1 / ort1,
        createMs: timeline.total({ kind: 'create' }, r1.start, r1.end),
        nodes: Object.fromEntries(Object.entries(nodes1).map(([id, t]) => [`${id} ${prompt[id].class_type}`, t.end - t.start])),
        ortByComponent: Object.fromEntries(['text_encoder', 'unet', 'vae_decoder'].map((c) => [c, timeline.total({ component: c, kind: 'run' }, r1.start, r1.end)])),
      },
      b: {
        wallMs: r2.end - r2.start, sessionsCreated: timeline.count({ kind: 'create' }, r2.start, r2.end),
        textEncoderRuns: timeline.count({ kind: 'run', component: 'text_encoder' }, r2.start, r2.end),
        samplerMs: part('3'), decodeMs: part('8'), saveMs: part('9'), ran: r2.outcome.ran, cached: r2.outcome.cached,
      },
      c: { saveMedianMs: median(saves), saveAllMs: saves },
      d: {
        unetStepMs: unetStep, unetCallsPerStep: warm.unetCallsPerStep, unetStepWarmMs: warm.unetPerStep,
        jsPerStepMs: warm.jsPerStep, jsPerStepColdMs: cold.jsPerStep, previewsWarm: r2.previews,
        setupMs: (timeline.spans.find((s) => s.kind === 'run' && s.component === 'unet' && s.start >= ks.start)?.start ?? ks.start) - ks.start,
        previews: r1.previews, previewMs, jsPerStepNoPreviewMs: noPreview.jsPerStep, convertStepMs: convertStep, convertStepFp16Ms: convertStepFp16,
      },
    };
    console.log(formatReport(result));
    if (values.write) {
      writeBenchmarksMd(path.resolve(values.write), result);
      console.log(`\nwrote ${values.write}`);
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

/**
 * The sampler's step loop from the first progress event to the last: wall time minus U-Net ORT
 * runs is what Marble's JS spends per step (sampler maths, CFG, IO conversion, previews, events).
 */
function stepLoop(events: TimedEvent[], timeline: Timeline) {
  const at = events.filter((t) => t.e.type === 'progress').map((t) => t.at);
  const from = at[0];
  const to = at[at.length - 1];
  const steps = at.length - 1;
  const unet = timeline.total({ kind: 'run', component: 'unet' }, from, to);
  return { jsPerStep: (to - from - unet) / steps, unetPerStep: unet / steps, unetCallsPerStep: timeline.count({ kind: 'run', component: 'unet' }, from, to) / steps };
}

async function repeat(n: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
