#!/usr/bin/env node
// The README's main job: make sure the generated default model exists in ./models, then run
// ComfyUI's default workflow on it with the real engine and print the PNG path, the EP and the time.
// Extra arguments go to `marble run` (e.g. --set 3.seed=42 --ep cpu).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const models = path.join(root, 'models');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run(process.execPath, ['--import', 'tsx', path.join(root, 'tools/modelgen/cli.ts'), '--default-models', models]);
run(process.execPath, [
  path.join(root, 'bin/marble.js'), 'run', path.join(root, 'resources/workflows/default.workflow.json'),
  '--models', models, '--output', path.join(root, 'output'), ...process.argv.slice(2),
]);
