// `npm run bench` entry: runs the TypeScript pipeline benchmark through tsx in a fresh Node
// process (the bundles in dist/ are child-process entries, not a library the bench could import).
// Arguments pass through, e.g. `npm run bench -- --steps 10 --write BENCHMARKS.md`.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'bench', 'pipeline.bench.ts'), ...process.argv.slice(2)], {
  cwd: repo,
  stdio: 'inherit',
});
if (result.error) {
  console.error(`bench: cannot start node: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
