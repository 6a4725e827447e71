#!/usr/bin/env node
// The README's main job: put the bundled tiny shapes model (resources/models/, a trained SD1.x
// checkpoint) into ./models/checkpoints, then run ComfyUI's default workflow on it with the real
// engine (CheckpointLoaderSimple on the .safetensors, converted to ONNX once and cached) at the
// model's own size and sampling values, and print the PNG path, the EP and the time.
// Extra arguments go to `marble run` after ours, so they win (e.g. --set 6.text="a small green
// star at the top, black background" --set 3.seed=7 --ep cpu).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const models = path.join(root, 'models');
const meta = JSON.parse(readFileSync(path.join(root, 'resources/models/marble-shapes-tiny.json'), 'utf8'));
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const src = path.join(root, 'resources/models', meta.checkpoint);
const dest = path.join(models, 'checkpoints', meta.checkpoint);
if (!existsSync(dest) || !readFileSync(dest).equals(readFileSync(src))) {
  if (statSync(src).size > meta.maxBytes) throw new Error(`${src} is over its ${meta.maxBytes}-byte bound`);
  mkdirSync(path.dirname(dest), { recursive: true });
  copyFileSync(src, `${dest}.tmp-${process.pid}`);
  renameSync(`${dest}.tmp-${process.pid}`, dest);
  console.log(`demo: installed ${path.relative(root, dest)}`);
}
// Node ids of resources/workflows/default.workflow.json (ComfyUI's default graph).
const sets = {
  '4.ckpt_name': meta.checkpoint, '5.width': meta.width, '5.height': meta.height,
  '6.text': meta.examplePrompt, '7.text': meta.negative,
  '3.seed': meta.seed, '3.steps': meta.steps, '3.cfg': meta.cfg, '3.sampler_name': meta.sampler_name, '3.scheduler': meta.scheduler,
};
run(process.execPath, [
  path.join(root, 'bin/marble.js'), 'run', path.join(root, 'resources/workflows/default.workflow.json'),
  '--models', models, '--output', path.join(root, 'output'),
  ...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${JSON.stringify(v)}`]),
  ...process.argv.slice(2),
]);
