// Runs `marble run` (the built CLI, bin/marble.js) once on a batched API prompt (one
// CheckpointLoaderSimple, one chain per prompt, TINY_SAMPLING: 64×64, euler/normal, 20 steps,
// cfg 8, seed 42, negative "") with the bundled tiny shapes model, then puts the saved PNGs side
// by side (×2, nearest) with their prompts under them into media/docs/tiny-shapes-grid.png, the
// README's picture of what the model draws. Rerun it whenever the model file changes:
//   npm run build && npx tsx tools/tinymodel/readmeGrid.ts [/tmp/tiny-grid]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { batchApiPrompt, pairPrefix, TINY_CHECKPOINT, TINY_SAMPLING } from './semantic';

const repo = path.resolve(__dirname, '../..');
export const GRID_FILE = path.join(repo, 'media', 'docs', 'tiny-shapes-grid.png');
export const GRID_PROMPTS = [
  'a large red circle on the left, blue background',
  'a large yellow star in the centre, purple background',
  'a small white square at the top, black background',
  'a large green triangle at the bottom, orange background',
  'a large blue square on the left and a large yellow circle on the right, white background',
  'a large orange star on the right, green and black background',
];
const TILE = 128;
const GAP = 4;
const CAPTION_H = 52;

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The prompt under its tile, wrapped to three short lines. */
function captionSvg(text: string): Buffer {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines[lines.length - 1];
    if (last !== undefined && (last + ' ' + word).length <= 24) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  const tspans = lines.slice(0, 4).map((l, i) => `<text x="${TILE / 2}" y="${10 + i * 11}" font-family="sans-serif" font-size="9.5" text-anchor="middle" fill="#333">${escapeXml(l)}</text>`).join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${TILE}" height="${CAPTION_H}">${tspans}</svg>`);
}

async function main(work: string): Promise<void> {
  const models = path.join(work, 'models');
  fs.mkdirSync(path.join(models, 'checkpoints'), { recursive: true });
  const copy = path.join(models, 'checkpoints', TINY_CHECKPOINT);
  fs.copyFileSync(path.join(repo, 'resources/models', TINY_CHECKPOINT), copy);
  const api = path.join(work, 'grid.json');
  fs.writeFileSync(api, JSON.stringify(batchApiPrompt(TINY_CHECKPOINT, GRID_PROMPTS.map((positive) => ({ positive, negative: TINY_SAMPLING.negative })), TINY_SAMPLING)));
  const out = path.join(work, 'out');
  fs.rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(repo, 'bin/marble.js'), 'run', api, '--models', models, '--output', out, '--cache', path.join(work, 'cache'), '--ep', 'cpu'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const saved = fs.readdirSync(out);
  const files = GRID_PROMPTS.map((p, k) => {
    const png = saved.find((f) => f.startsWith(`${pairPrefix(k)}_`) && f.endsWith('.png'));
    if (!png) throw new Error(`marble run wrote no PNG for "${p}"`);
    return path.join(out, png);
  });
  const tiles = await Promise.all(files.map((f) => sharp(f).resize(TILE, TILE, { kernel: 'nearest' }).png().toBuffer()));
  const width = TILE * tiles.length + GAP * (tiles.length - 1);
  const tmp = `${GRID_FILE}.tmp-${process.pid}.png`;
  await sharp({ create: { width, height: TILE + CAPTION_H, channels: 3, background: '#ffffff' } })
    .composite([
      ...tiles.map((input, i) => ({ input, left: i * (TILE + GAP), top: 0 })),
      ...GRID_PROMPTS.map((p, i) => ({ input: captionSvg(p), left: i * (TILE + GAP), top: TILE + 2 })),
    ])
    .png({ compressionLevel: 9, palette: true })
    .toFile(tmp);
  fs.renameSync(tmp, GRID_FILE);
  console.log(`wrote ${path.relative(repo, GRID_FILE)}`);
}

main(process.argv[2] ?? '/tmp/tiny-grid').catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
