// What applying a LoRA costs on a converted SD1.5 checkpoint: writing the patched copy of a
// component (graph + patched tensors, cached weights hard-linked) and creating its ORT session,
// against creating the unpatched session. Run after the parity test has filled the test cache:
//   node --import tsx bench/loraApply.bench.ts --entry ~/.cache/marble-test/conversion-cache/marble-random-sd15-s1-<hash> \
//     --lora ~/.cache/marble-test/run-models/loras/marble-random-lora-s11.safetensors [--strength 0.8]
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { writePatchedModel, type ComponentPatch } from '../src/inference/lora/applyPatches';
import { readComponentGraph } from '../src/inference/lora/graphTargets';
import { clipLoraKeys, unetLoraKeys } from '../src/inference/lora/keyMap';
import { openLora } from '../src/inference/lora/loraFile';
import { machineInfo } from './report';

const { values } = parseArgs({ options: { entry: { type: 'string' }, lora: { type: 'string' }, strength: { type: 'string', default: '0.8' } } });
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

async function main(): Promise<void> {
  if (!values.entry || !values.lora) throw new Error('--entry and --lora are required');
  const m = machineInfo();
  console.log(`${new Date().toISOString()} · ${m.cpus} CPUs ${m.cpuModel}, ${m.ramGiB} GiB, Node ${m.node}`);
  const lora = await openLora(values.lora);
  for (const component of ['unet', 'text_encoder']) {
    const file = path.join(values.entry, component, 'model.onnx');
    const { targets } = await readComponentGraph(file);
    const keys = component === 'unet' ? unetLoraKeys([...targets.keys()]) : clipLoraKeys([...targets.keys()], 'clip_l');
    const modules = lora.modules.filter((x) => keys.has(x.name)).map((module) => ({ module, target: keys.get(module.name)! }));
    const patch: ComponentPatch = { file: values.lora, identity: 'bench', strength: Number(values.strength), modules };
    const rssBefore = process.memoryUsage().rss;
    let t = performance.now();
    const base = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
    const baseCreate = performance.now() - t;
    await base.release();
    t = performance.now();
    const patched = await writePatchedModel(file, [patch], { roundToHalf: component === 'text_encoder' });
    const write = performance.now() - t;
    t = performance.now();
    const s = await ort.InferenceSession.create(patched.file, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
    const create = performance.now() - t;
    await patched.dispose();
    await s.release();
    console.log(
      `${component}: ${modules.length} modules → ${patched.patched} tensors (${(patched.patchBytes / 1e6).toFixed(0)} MB) patched in ${(write / 1000).toFixed(2)} s; ` +
        `patched session ${(create / 1000).toFixed(1)} s vs unpatched ${(baseCreate / 1000).toFixed(1)} s; ` +
        `rss before ${gib(rssBefore)}, peak so far ${gib(process.resourceUsage().maxRSS * 1024)}`,
    );
  }
  await lora.st.close();
}

void main();
