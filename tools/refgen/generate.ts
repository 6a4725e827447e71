// Writes a reference-rule checkpoint (REFERENCE.md) in the reference file layout, streamed tensor
// by tensor, and keeps the full-size one in a cache outside the repository between test runs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSafetensors } from '../../src/inference/safetensors/write';
import { checkpointTensors, SD15, type CheckpointConfig, type ManifestEntry } from './layout';
import { tensorHalfBits } from './rule';

export const SD15_REFERENCE = {
  fileName: 'marble-random-sd15-s1.safetensors',
  seed: 1,
  sha256: '3a6e7b6d554b26af26a330c95f597afb14606fa23c97253ef283b4bf65165d3d',
  params: 1_066_235_307,
};

export async function writeRuleCheckpoint(file: string, cfg: CheckpointConfig, seed: number): Promise<{ params: number }> {
  return writeRuleEntries(file, checkpointTensors(cfg), seed);
}

/** Any tensor list by the rule; `position_ids` tensors are int64 0..n-1 (REFERENCE.md, SDXL). */
export async function writeRuleEntries(file: string, entries: ManifestEntry[], seed: number): Promise<{ params: number }> {
  let params = 0;
  await writeSafetensors(
    file,
    entries.map((e) => {
      const count = e.shape.reduce((a, b) => a * b, 1);
      params += count;
      if (e.kind === 'position_ids') {
        return { name: e.name, dtype: 'I64' as const, shape: e.shape, data: () => { const ids = new BigInt64Array(count); for (let i = 0; i < count; i++) ids[i] = BigInt(i); return new Uint8Array(ids.buffer); } };
      }
      return {
        name: e.name,
        dtype: 'F16' as const,
        shape: e.shape,
        data: () => {
          const bits = tensorHalfBits(e.name, count, e.kind, e.scale, seed);
          return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
        },
      };
    }),
  );
  return { params };
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 8 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** $MARBLE_TEST_CACHE, else ~/.cache/marble-test. */
export function testCacheDir(): string {
  return process.env.MARBLE_TEST_CACHE || path.join(os.homedir(), '.cache', 'marble-test');
}

/** Bytes the full-size reference needs on disk: the file itself. */
export function referenceFileBytes(): number {
  const entries = checkpointTensors(SD15);
  const header = 8 + 200_000; // generous: the JSON header is ~130 kB
  return header + entries.reduce((s, e) => s + 2 * e.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * The full-size reference SD1.5 checkpoint in `dir` (default the test cache), regenerated when
 * missing or when its sha256 is not the reference's. A stamp beside it records the verified size
 * and mtime so later runs skip rehashing 2 GB.
 */
export async function ensureSd15Reference(dir = testCacheDir(), log: (msg: string) => void = () => undefined): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, SD15_REFERENCE.fileName);
  const stampFile = `${file}.verified.json`;
  const stampOf = (st: fs.Stats) => JSON.stringify({ size: st.size, mtimeMs: st.mtimeMs, sha256: SD15_REFERENCE.sha256 });
  if (fs.existsSync(file)) {
    const st = fs.statSync(file);
    if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stampOf(st)) return file;
    log(`checking ${file}`);
    if ((await sha256File(file)) === SD15_REFERENCE.sha256) {
      fs.writeFileSync(stampFile, stampOf(st));
      return file;
    }
    log(`${file} has the wrong sha256: regenerating`);
    fs.rmSync(file, { force: true });
  }
  log(`generating ${file} (2.1 GB)`);
  await writeRuleCheckpoint(file, SD15, SD15_REFERENCE.seed);
  const sha = await sha256File(file);
  if (sha !== SD15_REFERENCE.sha256) throw new Error(`refgen: generated ${file} has sha256 ${sha}, expected ${SD15_REFERENCE.sha256}`);
  fs.writeFileSync(stampFile, stampOf(fs.statSync(file)));
  return file;
}
