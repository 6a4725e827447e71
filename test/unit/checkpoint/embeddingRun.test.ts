// `marble run` on ComfyUI's default workflow with a small SD1.5-layout checkpoint and
// models/embeddings/: an embedding equal to the token row of "cat" renders exactly the image of
// the prompt with "cat"; a missing embedding is a warning in the run's log; an embedding of the
// wrong width fails CLIP Text Encode in one line naming the file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { run } from '../../../src/cli/commands/run';
import type { CliIO } from '../../../src/cli/io';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { writeSafetensors } from '../../../src/inference/safetensors/write';
import { writeRuleCheckpoint } from '../../../tools/refgen/generate';
import { SD15_SMALL } from '../../../tools/refgen/layout';
import { bundle, repoRoot, tempDir } from '../inference/helpers';

const WORKFLOW = path.join(repoRoot, 'resources', 'workflows', 'default.workflow.json');
const CAT = 2368; // "cat</w>" in CLIP's vocabulary
const D = SD15_SMALL.clip.hiddenSize;

/** The decompressed IDAT stream: the pixels, whatever the text chunks (the prompt) say. */
function pngPixels(file: string): Buffer {
  const png = readFileSync(file);
  const parts: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'IDAT') parts.push(png.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  return inflateSync(Buffer.concat(parts));
}

describe('embedding:name through marble run', function () {
  this.timeout(240_000);
  const tmp = tempDir('marble-emb-run-');
  const buildDir = path.join(repoRoot, 'node_modules', '.cache', 'marble-tests');
  const models = path.join(tmp.dir, 'models');
  const embeddings = path.join(models, 'embeddings');
  let outDir: string;

  before(async () => {
    mkdirSync(buildDir, { recursive: true });
    outDir = mkdtempSync(path.join(buildDir, 'emb-'));
    process.env.MARBLE_INFERENCE_ENTRY = await bundle(path.join(repoRoot, 'src/inference/main.ts'), outDir);
    mkdirSync(path.join(models, 'checkpoints'), { recursive: true });
    mkdirSync(embeddings, { recursive: true });
    const ckpt = path.join(models, 'checkpoints', 'small.safetensors');
    await writeRuleCheckpoint(ckpt, SD15_SMALL, 7);
    const st = await SafetensorsFile.open(ckpt);
    const row = await st.readFloat32Range('cond_stage_model.transformer.text_model.embeddings.token_embedding.weight', CAT * D, D);
    const dtype = st.tensors.get('cond_stage_model.transformer.text_model.embeddings.token_embedding.weight')!.dtype;
    await st.close();
    assert.equal(dtype, 'F16', 'the fp16 token table converts exactly to the F32 row written here');
    await writeSafetensors(path.join(embeddings, 'cat1.safetensors'), [{ name: 'emb_params', dtype: 'F32', shape: [1, D], data: new Uint8Array(Float32Array.from(row).buffer) }]);
    await writeSafetensors(path.join(embeddings, 'wide.safetensors'), [{ name: 'emb_params', dtype: 'F32', shape: [2, 768], data: new Uint8Array(2 * 768 * 4) }]);
  });
  after(() => {
    delete process.env.MARBLE_INFERENCE_ENTRY;
    rmSync(outDir, { recursive: true, force: true });
    tmp.remove();
  });

  const runWith = async (text: string) => {
    const io: CliIO & { stdout: string; stderr: string } = { stdout: '', stderr: '', out: (t) => void (io.stdout += t), err: (t) => void (io.stderr += t) };
    const code = await run([WORKFLOW, '--models', models, '--cache', path.join(tmp.dir, 'cache'), '--output', path.join(tmp.dir, 'output'), '--ep', 'cpu', '--json',
      '--set', '4.ckpt_name=small.safetensors', '--set', '5.width=64', '--set', '5.height=64', '--set', '3.steps=2', '--set', '3.seed=3', '--set', `6.text=${text}`], io);
    const lines = io.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    return { code, io, lines, result: lines.at(-1)!.data };
  };

  it('renders the same pixels for "embedding:cat1" as for "cat" when the embedding is the token row of cat', async () => {
    const withEmbedding = await runWith('a photo of embedding:cat1 on grass');
    assert.equal(withEmbedding.code, 0, withEmbedding.io.stderr);
    const withWord = await runWith('a photo of cat on grass');
    assert.equal(withWord.code, 0, withWord.io.stderr);
    const without = await runWith('a photo of on grass');
    const [a, b, c] = [withEmbedding, withWord, without].map((r) => pngPixels((r.result.images as string[])[0]!));
    assert.ok(a.equals(b), 'embedding and word give identical pixels');
    assert.ok(!a.equals(c), 'dropping the word changes the image');
  });

  it('logs a missing embedding as a warning and still renders', async () => {
    const r = await runWith('a photo of embedding:nothere');
    assert.equal(r.code, 0, r.io.stderr);
    const logs = r.lines.filter((l) => l.type === 'log').map((l) => String(l.data.message));
    assert.ok(logs.some((m) => m.includes('warning, embedding:nothere does not exist, ignoring') && m.includes(embeddings)), logs.join('\n'));
  });

  it('fails CLIP Text Encode in one line naming a file of the wrong width', async () => {
    const r = await runWith('embedding:wide');
    assert.equal(r.code, 1);
    const message = String(r.result.message);
    assert.match(message, /^node 6 \(CLIPTextEncode\) failed: /);
    assert.ok(message.includes(path.join(embeddings, 'wide.safetensors')), message);
    assert.match(message, /768 wide; this text encoder takes 64-wide vectors/);
    assert.ok(!message.includes('\n'), message);
  });
});
