// Runs `marble run` (the built CLI, bin/marble.js) on ComfyUI's default workflow shape at 64×64
// for a few prompts with the tiny shapes model, then puts the saved PNGs side by side (×2, nearest)
// into tools/tinymodel/grid.png for the README.
//   npm run build && npx tsx tools/tinymodel/readmeGrid.ts [/tmp/tiny-grid]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { defaultApiPrompt } from './semantic';

const repo = path.resolve(__dirname, '../..');
export const GRID_PROMPTS = [
  'a large red circle on the left, blue background',
  'a large yellow star in the centre, purple background',
  'a small white square at the top, black background',
  'a large green triangle at the bottom, orange background',
  'a large blue square on the left and a large yellow circle on the right, white background',
  'a large orange star on the right, green and black background',
];

async function main(work: string): Promise<void> {
  const models = path.join(work, 'models');
  fs.mkdirSync(path.join(models, 'checkpoints'), { recursive: true });
  const link = path.join(models, 'checkpoints', 'marble-shapes-tiny.safetensors');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.join(repo, 'resources/models/marble-shapes-tiny.safetensors'), link);
  const files: string[] = [];
  for (const [i, p] of GRID_PROMPTS.entries()) {
    const api = path.join(work, `prompt${i}.json`);
    fs.writeFileSync(api, JSON.stringify(defaultApiPrompt('marble-shapes-tiny.safetensors', p, '', { seed: 42, steps: 20, cfg: 8, size: 64 })));
    const out = path.join(work, `out${i}`);
    fs.rmSync(out, { recursive: true, force: true });
    execFileSync('node', [path.join(repo, 'bin/marble.js'), 'run', api, '--models', models, '--output', out, '--cache', path.join(work, 'cache'), '--ep', 'cpu'], { stdio: ['ignore', 'inherit', 'inherit'] });
    const png = fs.readdirSync(out).find((f) => f.endsWith('.png'));
    if (!png) throw new Error(`marble run wrote no PNG for "${p}"`);
    files.push(path.join(out, png));
    console.log(`${p} → ${path.join(out, png)}`);
  }
  const tiles = await Promise.all(files.map((f) => sharp(f).resize(128, 128, { kernel: 'nearest' }).png().toBuffer()));
  await sharp({ create: { width: 128 * tiles.length + 4 * (tiles.length - 1), height: 128, channels: 3, background: '#ffffff' } })
    .composite(tiles.map((input, i) => ({ input, left: i * 132, top: 0 })))
    .png()
    .toFile(path.join(__dirname, 'grid.png'));
  console.log(`wrote ${path.join(__dirname, 'grid.png')}`);
}

main(process.argv[2] ?? '/tmp/tiny-grid').catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
