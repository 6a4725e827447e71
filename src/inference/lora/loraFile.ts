// A LoRA file read as modules: each module name (`lora_unet_…_to_q`, `unet.….to_q`) with its
// low-rank factors, in the spellings ComfyUI's weight adapters accept. Everything is checked from
// the header before a value is read (files from the internet are untrusted): factor ranks and
// shapes must agree, alpha must be a scalar, ranks must be small. LoHa/LoKr/GLoRA/DoRA modules
// are recognised and refused with the file's name.
import * as path from 'node:path';
import { SafetensorsFile, type TensorEntry } from '../safetensors/read';

/** up [out, r, (1, 1)] · down [r, in, (kh, kw)] (kohya's names; PEFT's lora_B/lora_A). */
export interface LoraModule {
  /** The module name as the file spells it (no factor suffix). */
  name: string;
  up: string;
  down: string;
  mid?: string;
  alpha?: string;
  rank: number;
  outDim: number;
  /** The patched weight's trailing shape: [in] for a linear, [in, kh, kw] for a convolution. */
  inShape: number[];
}

export class LoraFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoraFileError';
  }
}

/** [up suffix, down suffix, mid suffix] per spelling, as ComfyUI's LoRAAdapter.load tries them. */
const LORA_SPELLINGS: [string, string, string | undefined][] = [
  ['.lora_up.weight', '.lora_down.weight', '.lora_mid.weight'],
  ['_lora.up.weight', '_lora.down.weight', undefined],
  ['.lora_B.weight', '.lora_A.weight', undefined],
  ['.lora.up.weight', '.lora.down.weight', undefined],
  ['.lora_linear_layer.up.weight', '.lora_linear_layer.down.weight', undefined],
  ['.lora_B.default.weight', '.lora_A.default.weight', undefined],
];

/** Module kinds Marble recognises but does not apply (yet). */
const UNSUPPORTED: [RegExp, string][] = [
  [/\.hada_(w1_a|w1_b|w2_a|w2_b|t1|t2)$/, 'LoHa (hada_*)'],
  [/\.lokr_(w1|w2|w1_a|w1_b|w2_a|w2_b|t2)$/, 'LoKr (lokr_*)'],
  [/\.(a1|a2|b1|b2)\.weight$/, 'GLoRA'],
  [/\.dora_scale$/, 'DoRA (dora_scale)'],
  [/\.(oft_blocks|oft_diag|boft_blocks)$/, 'OFT/BOFT'],
];

/** Ranks above this are not LoRAs (and would make the delta products expensive). */
const MAX_RANK = 4096;

export interface LoraContents {
  file: string;
  st: SafetensorsFile;
  modules: LoraModule[];
  /** Tensors that belong to no module Marble understands (reported as "lora key not loaded"). */
  stray: string[];
}

const count = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export async function openLora(file: string): Promise<LoraContents> {
  const base = path.basename(file);
  let st: SafetensorsFile;
  try {
    st = await SafetensorsFile.open(file);
  } catch (e) {
    throw new LoraFileError(`${base}: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    return { file, st, ...modulesOf(base, st.tensors) };
  } catch (e) {
    await st.close().catch(() => undefined);
    throw e;
  }
}

/** Groups the header's tensors into modules; throws LoraFileError naming the file on any defect. */
export function modulesOf(base: string, tensors: ReadonlyMap<string, Pick<TensorEntry, 'shape'>>): { modules: LoraModule[]; stray: string[] } {
  const used = new Set<string>();
  const modules: LoraModule[] = [];
  for (const name of [...tensors.keys()].sort()) {
    for (const [re, kind] of UNSUPPORTED) {
      if (re.test(name)) throw new LoraFileError(`${base}: ${kind} modules are not supported by Marble (tensor '${name}'); use a plain LoRA/LoCon file`);
    }
    for (const [upS, downS, midS] of LORA_SPELLINGS) {
      if (!name.endsWith(upS)) continue;
      const x = name.slice(0, -upS.length);
      const down = x + downS;
      const downT = tensors.get(down);
      if (!downT) throw new LoraFileError(`${base}: '${name}' has no matching '${down}'`);
      const up = tensors.get(name)!.shape;
      const dn = downT.shape;
      const mid = midS && tensors.has(x + midS) ? x + midS : undefined;
      const rank = up[1];
      const okUp = (up.length === 2 || (up.length === 4 && up[2] === 1 && up[3] === 1)) && up.every((d) => d > 0);
      const okDown = (dn.length === 2 || dn.length === 4) && dn.every((d) => d > 0) && dn[0] === rank;
      if (!okUp || !okDown || rank > MAX_RANK) {
        throw new LoraFileError(`${base}: module '${x}' has factors of shapes [${up.join(', ')}] and [${dn.join(', ')}]; expected up [out, r] and down [r, in] (or their 1×1/k×k convolution forms) with matching rank r ≤ ${MAX_RANK}`);
      }
      let inShape = dn.slice(1);
      if (mid) {
        // LoCon's Tucker form: mid [r, r, kh, kw] between two 1×1 factors.
        const m = tensors.get(mid)!.shape;
        if (m.length !== 4 || m[0] !== rank || m[1] !== rank || dn.length !== 4 || dn[2] !== 1 || dn[3] !== 1) {
          throw new LoraFileError(`${base}: module '${x}' has a lora_mid of shape [${m.join(', ')}]; expected [${rank}, ${rank}, kh, kw] with 1×1 up/down factors`);
        }
        inShape = [dn[1], m[2], m[3]];
        used.add(mid);
      }
      if (inShape.length === 3 && inShape[1] === 1 && inShape[2] === 1 && up.length === 2) inShape = inShape.slice(0, 1);
      const alpha = tensors.has(`${x}.alpha`) ? `${x}.alpha` : undefined;
      if (alpha) {
        if (count(tensors.get(alpha)!.shape) !== 1) throw new LoraFileError(`${base}: '${alpha}' has shape [${tensors.get(alpha)!.shape.join(', ')}]; expected a single number`);
        used.add(alpha);
      }
      used.add(name).add(down);
      modules.push({ name: x, up: name, down, mid, alpha, rank, outDim: up[0], inShape });
      break;
    }
  }
  const stray = [...tensors.keys()].filter((n) => !used.has(n)).sort();
  return { modules, stray };
}
