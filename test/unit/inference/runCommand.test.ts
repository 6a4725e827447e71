// `marble run` end to end: the real inference child (bundled for the test), image nodes only.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { applySets, parseRunArgs, run } from '../../../src/cli/commands/run';
import type { CliIO } from '../../../src/cli/io';
import { readPngMetadata } from '../../../src/workflow/png';
import type { ApiPrompt } from '../../../src/workflow/types';
import { bundle, repoRoot, tempDir } from './helpers';

function captureIO(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  return io;
}

describe('marble run: arguments', () => {
  it('parses options, repeated --models and --set', () => {
    const a = parseRunArgs(['w.json', '--models', 'a', '--models', 'b', '--set', '3.seed=42', '--json', '--ep', 'cpu']);
    assert.deepEqual(a, { file: 'w.json', models: ['a', 'b'], sets: ['3.seed=42'], ep: 'cpu', json: true });
    assert.throws(() => parseRunArgs(['--json']), /missing the workflow file/);
    assert.throws(() => parseRunArgs(['a.json', 'b.json']), /only one workflow file/);
    assert.throws(() => parseRunArgs(['a.json', '--bogus']), /unknown option --bogus/);
    assert.throws(() => parseRunArgs(['a.json', '--set']), /--set needs a value/);
  });

  it('applies --set as JSON when it parses, else as text, and names unknown nodes', () => {
    const prompt: ApiPrompt = { '3': { class_type: 'KSampler', inputs: { seed: 1 } }, '6': { class_type: 'CLIPTextEncode', inputs: { text: '' } } };
    applySets(prompt, ['3.seed=42', '6.text=a cat, 4k', '3.cfg=7.5']);
    assert.deepEqual(prompt['3'].inputs, { seed: 42, cfg: 7.5 });
    assert.equal(prompt['6'].inputs.text, 'a cat, 4k');
    assert.throws(() => applySets(prompt, ['9.seed=1']), /--set 9.seed=1: the prompt has no node '9' \(nodes: 3, 6\)/);
    assert.throws(() => applySets(prompt, ['seed=1']), /expected <node id>.<input>=<value>/);
  });
});

describe('marble run: end to end', function () {
  this.timeout(30000);
  const tmp = tempDir('marble-run-');
  // Inside the repo so the bundle resolves sharp/onnxruntime-node from node_modules.
  const buildDir = path.join(repoRoot, 'node_modules', '.cache', 'marble-tests');
  let outDir: string;
  const inputDir = path.join(tmp.dir, 'input');
  const outputDir = path.join(tmp.dir, 'output');

  before(async () => {
    mkdirSync(buildDir, { recursive: true });
    outDir = mkdtempSync(path.join(buildDir, 'run-'));
    process.env.MARBLE_INFERENCE_ENTRY = await bundle(path.join(repoRoot, 'src/inference/main.ts'), outDir);
    mkdirSync(inputDir, { recursive: true });
    await sharp(Buffer.from([0, 64, 255, 255, 255, 255]), { raw: { width: 2, height: 1, channels: 3 } }).png().toFile(path.join(inputDir, 'in.png'));
  });
  after(() => {
    delete process.env.MARBLE_INFERENCE_ENTRY;
    rmSync(outDir, { recursive: true, force: true });
    tmp.remove();
  });

  const apiPrompt = {
    '1': { class_type: 'LoadImage', inputs: { image: 'in.png' } },
    '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'Marble' } },
  };

  it('runs an API prompt with --set and --json, printing events and the saved path', async () => {
    const file = path.join(tmp.dir, 'api.json');
    writeFileSync(file, JSON.stringify(apiPrompt));
    const io = captureIO();
    const code = await run([file, '--input', inputDir, '--output', outputDir, '--set', '3.filename_prefix=cli/Run', '--json'], io);
    assert.equal(code, 0, io.stderr);
    const lines = io.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const types = lines.filter((l) => l.data?.prompt_id && l.type !== 'marble_result').map((l) => l.type);
    assert.deepEqual(types, ['execution_start', 'execution_cached', 'executing', 'executing', 'executing', 'executed', 'execution_success', 'executing']);
    const result = lines.at(-1);
    assert.equal(result.type, 'marble_result');
    assert.equal(result.data.status, 'success');
    const saved = path.join(outputDir, 'cli', 'Run_00001_.png');
    assert.deepEqual(result.data.images, [saved]);
    const png = readFileSync(saved);
    assert.equal(JSON.parse(readPngMetadata(new Uint8Array(png)).prompt!)['3'].inputs.filename_prefix, 'cli/Run');
    const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([...data], [255, 191, 0, 0, 0, 0]); // inverted
  });

  it('runs a UI workflow and embeds it as the workflow chunk', async () => {
    const ui = {
      last_node_id: 2, last_link_id: 1, version: 0.4, groups: [], config: {}, extra: {},
      nodes: [
        { id: 1, type: 'LoadImage', pos: [0, 0], size: [300, 300], flags: {}, order: 0, mode: 0, properties: {}, widgets_values: ['in.png', 'image'],
          outputs: [{ name: 'IMAGE', type: 'IMAGE', links: [1] }, { name: 'MASK', type: 'MASK', links: null }] },
        { id: 2, type: 'SaveImage', pos: [400, 0], size: [300, 300], flags: {}, order: 1, mode: 0, properties: {}, widgets_values: ['ui'],
          inputs: [{ name: 'images', type: 'IMAGE', link: 1 }] },
      ],
      links: [[1, 1, 0, 2, 0, 'IMAGE']],
    };
    const file = path.join(tmp.dir, 'ui.workflow.json');
    writeFileSync(file, JSON.stringify(ui));
    const io = captureIO();
    const code = await run([file, '--input', inputDir, '--output', outputDir], io);
    assert.equal(code, 0, io.stderr);
    const saved = path.join(outputDir, 'ui_00001_.png');
    assert.equal(io.stdout.trim(), saved);
    assert.match(io.stderr, /EP: auto · [\d.]+ s/);
    const meta = readPngMetadata(new Uint8Array(readFileSync(saved)));
    assert.deepEqual(JSON.parse(meta.workflow!).links, ui.links);
  });

  it('exits 3 and names the node when validation fails', async () => {
    const file = path.join(tmp.dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...apiPrompt, '1': { class_type: 'LoadImage', inputs: { image: 'missing.png' } } }));
    const io = captureIO();
    assert.equal(await run([file, '--input', inputDir, '--output', outputDir], io), 3);
    assert.match(io.stderr, /node 1 \(LoadImage\): .*Invalid image file: missing.png/);
  });

  it('exits 1 and names the node when execution fails', async () => {
    // The file exists (validation passes) but is not an image (decoding fails in the node).
    writeFileSync(path.join(inputDir, 'broken.png'), 'not a png');
    const file = path.join(tmp.dir, 'fail.json');
    writeFileSync(file, JSON.stringify({ ...apiPrompt, '1': { class_type: 'LoadImage', inputs: { image: 'broken.png' } } }));
    const io = captureIO();
    assert.equal(await run([file, '--input', inputDir, '--output', outputDir], io), 1);
    assert.match(io.stderr, /node 1 \(LoadImage\) failed: /);
  });

  it('exits 2 on a file that is not a workflow', async () => {
    const file = path.join(tmp.dir, 'nope.json');
    writeFileSync(file, '{"hello": 1}');
    const io = captureIO();
    assert.equal(await run([file], io), 2);
    assert.match(io.stderr, /marble run: /);
  });
});
