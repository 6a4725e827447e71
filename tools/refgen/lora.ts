// LoRA files by the value rule of test/fixtures/comfyui-reference/REFERENCE.md ("The LoRA"): every
// factor is tensorHalfBits(name, count, 'dense', 2^-3, seed) in fp16 and every `.alpha` a 0-D fp16
// holding the rank, so ComfyUI's reference LoRA is regenerated bit for bit (sha256 in
// sd15/lora-manifest.json) and tests can make small LoRAs in the same format.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../src/inference/safetensors/write';
import { numberToFloat16Bits } from '../../src/inference/ort/float16';
import { sha256File } from './generate';
import { tensorHalfBits } from './rule';

export const LORA_SCALE = 2 ** -3;

export const SD15_LORA_REFERENCE = { fileName: 'marble-random-lora-s11.safetensors', seed: 11 };

/** The tensors of a rule LoRA: `[name, shape]` pairs, `.alpha` entries holding `alpha`. */
export function ruleLoraTensors(entries: readonly [string, readonly number[]][], seed: number, alpha: number, scale = LORA_SCALE): TensorToWrite[] {
  return entries.map(([name, shape]) => {
    const count = shape.reduce((a, b) => a * b, 1);
    return {
      name,
      dtype: 'F16' as const,
      shape: [...shape],
      data: () => {
        const bits = name.endsWith('.alpha') ? Uint16Array.of(numberToFloat16Bits(alpha)) : tensorHalfBits(name, count, 'dense', scale, seed);
        return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
      },
    };
  });
}

/**
 * The reference SD1.5 LoRA in `dir`, written from `manifestFile` (sd15/lora-manifest.json) and
 * checked against its sha256; kept while a stamp says it was verified.
 */
export async function ensureSd15Lora(dir: string, manifestFile: string): Promise<string> {
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { sha256: string; tensors: [string, number[]][] };
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, SD15_LORA_REFERENCE.fileName);
  const stampFile = `${file}.verified.json`;
  const stampOf = (st: fs.Stats) => JSON.stringify({ size: st.size, mtimeMs: st.mtimeMs, sha256: manifest.sha256 });
  if (fs.existsSync(file) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stampOf(fs.statSync(file))) return file;
  await writeSafetensors(file, ruleLoraTensors(manifest.tensors, SD15_LORA_REFERENCE.seed, 4));
  const sha = await sha256File(file);
  if (sha !== manifest.sha256) throw new Error(`refgen: generated ${file} has sha256 ${sha}, expected ${manifest.sha256}`);
  fs.writeFileSync(stampFile, stampOf(fs.statSync(file)));
  return file;
}
