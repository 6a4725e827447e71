// CLIP Text Encode time on a checkpoint-built text encoder (CPU EP), with and without
// textual-inversion embeddings: tokenizing, looking the embedding files up and reading them, and
// the encoder run, as the node does it (encodeText). Builds the encoder (fp32) from the full-size
// reference checkpoint into a temp folder first. Run:
//   node --import tsx bench/textEncoder.bench.ts [--checkpoint ~/.cache/marble-test/marble-random-sd15-s1.safetensors] [--runs 15]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { writeClipTextOnnx } from '../src/inference/checkpoint/build';
import { ComponentSession } from '../src/inference/models';
import { encodeText } from '../src/inference/nodes/conditioning';
import type { ClipModel } from '../src/inference/nodes/modelTypes';
import { SessionCache } from '../src/inference/ort/sessionCache';
import { SafetensorsFile } from '../src/inference/safetensors/read';
import { writeSafetensors } from '../src/inference/safetensors/write';
import { findShippedTokenizerDir, loadClipTokenizer } from '../src/inference/text';
import { SD15_REFERENCE, testCacheDir } from '../tools/refgen/generate';
import { SD15 } from '../tools/refgen/layout';
import { prefixedSource, SD1_PREFIXES } from '../tools/refgen/weightSource';
import { machineInfo, median } from './report';

const { values } = parseArgs({ options: { checkpoint: { type: 'string', default: path.join(testCacheDir(), SD15_REFERENCE.fileName) }, runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);

async function main(): Promise<void> {
  const m = machineInfo();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-bench-te-'));
  const cache = new SessionCache({ ep: 'cpu' });
  try {
    const st = await SafetensorsFile.open(values.checkpoint!);
    const model = path.join(dir, 'text_encoder', 'model.onnx');
    await writeClipTextOnnx(model, SD15.clip, prefixedSource(st, SD1_PREFIXES.clip), { precision: 'fp32' });
    await st.close();
    const embeddings = path.join(dir, 'embeddings');
    fs.mkdirSync(embeddings);
    for (const [name, n] of [['one', 1], ['eight', 8]] as const) {
      const data = Float32Array.from({ length: n * 768 }, (_, i) => Math.sin(i) * 0.02);
      await writeSafetensors(path.join(embeddings, `${name}.safetensors`), [{ name: 'emb_params', dtype: 'F32', shape: [n, 768], data: new Uint8Array(data.buffer) }]);
    }
    const tokenizer = await loadClipTokenizer(findShippedTokenizerDir());
    const clip: ClipModel = { name: 'bench', encoder: new ComponentSession('text_encoder', model, 'bench text encoder', cache), tokenizer, padId: tokenizer.eosId, layerIdx: -1, embeddingDirs: [embeddings] };
    console.log(`${new Date().toISOString()} · ${m.cpus} CPUs ${m.cpuModel}, ${m.ramGiB} GiB, Node ${m.node}; SD1.5 CLIP-L fp32, CPU EP; ${runs} timed encodes after 1 warm-up`);
    const prompts: [string, string][] = [
      ['plain', 'a photograph of a marble statue of a scholar holding a book'],
      ['1 + 8 vectors', 'a photograph of embedding:one statue of a scholar, embedding:eight'],
      ['weighted + embedding', 'a (photograph:1.2) of (embedding:one:1.3) statue'],
    ];
    for (const [label, text] of prompts) {
      await encodeText(clip, text);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await encodeText(clip, text);
        times.push(performance.now() - t);
      }
      console.log(`${label.padEnd(22)} median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})`);
    }
  } finally {
    await cache.freeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
