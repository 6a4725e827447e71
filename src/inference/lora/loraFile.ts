// A LoRA file read as modules: each module name (`lora_unet_…_to_q`, `unet.….to_q`) with its
// low-rank factors, in the spellings ComfyUI's weight adapters accept. Everything is checked from
// the header before a value is read (files from the internet are untrusted): factor ranks and
// shapes must agree, alpha must be a scalar, ranks must be small. LoHa and LoKr are read too;
// DoRA magnitudes (`dora_scale`) on any of them too; Tucker-form LoHa/LoKr, GLoRA and OFT are
// recognised and refused with the file's name.
import * as path from 'node:path';
import { SafetensorsFile, type TensorEntry } from '../safetensors/read';

interface ModuleBase {
  /** The module name as the file spells it (no factor suffix). */
  name: string;
  alpha?: string;
  outDim: number;
  /** The patched weight's trailing shape: [in] for a linear, [in, kh, kw] for a convolution, [in·kh·kw] when the file does not say. */
  inShape: number[];
  /** Every tensor of the file this module uses. */
  tensors: string[];
  /** DoRA's per-input-channel magnitude (`dora_scale`) and its element count. */
  dora?: string;
  doraCount?: number;
}

/** LoRA/LoCon: up [out, r, (1, 1)] · (mid [r, r, kh, kw]) · down [r, in, (kh, kw)] (kohya's names; PEFT's lora_B/lora_A). */
export interface LowRankModule extends ModuleBase {
  kind: 'lora';
  up: string;
  down: string;
  mid?: string;
  rank: number;
}

/** LoHa: (w1a·w1b) ⊙ (w2a·w2b), α over w1b's rank. */
export interface LohaModule extends ModuleBase {
  kind: 'loha';
  w1a: string;
  w1b: string;
  w2a: string;
  w2b: string;
  rank: number;
}

/** LoKr: kron(w1 or w1a·w1b, w2 or w2a·w2b), α over the factored side's rank (else α is not used). */
export interface LokrModule extends ModuleBase {
  kind: 'lokr';
  w1?: string;
  w1a?: string;
  w1b?: string;
  w2?: string;
  w2a?: string;
  w2b?: string;
  /** [a, b] and [c, rest] of the two Kronecker factors. */
  f1: [number, number];
  f2: [number, number];
  /** ComfyUI's `dim`: the rank of the factored side, when one is. */
  dim?: number;
}

export type LoraModule = LowRankModule | LohaModule | LokrModule;

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
  [/\.hada_t[12]$/, 'LoHa with Tucker factors (hada_t1/hada_t2)'],
  [/\.lokr_t2$/, 'LoKr with a Tucker factor (lokr_t2)'],
  [/\.(a1|a2|b1|b2)\.weight$/, 'GLoRA'],
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

type Header = ReadonlyMap<string, Pick<TensorEntry, 'shape'>>;

function alphaOf(base: string, x: string, tensors: Header, used: Set<string>): string | undefined {
  const alpha = `${x}.alpha`;
  if (!tensors.has(alpha)) return undefined;
  if (count(tensors.get(alpha)!.shape) !== 1) throw new LoraFileError(`${base}: '${alpha}' has shape [${tensors.get(alpha)!.shape.join(', ')}]; expected a single number`);
  used.add(alpha);
  return alpha;
}

function need(base: string, tensors: Header, name: string): number[] {
  const t = tensors.get(name);
  if (!t) throw new LoraFileError(`${base}: '${name}' is missing`);
  return t.shape;
}

/** [rows, everything else] of a factor, or a refusal naming it. */
function matrix(base: string, name: string, shape: readonly number[]): [number, number] {
  if (shape.length < 2 || !shape.every((d) => d > 0)) throw new LoraFileError(`${base}: '${name}' has shape [${shape.join(', ')}]; expected a matrix`);
  return [shape[0], count(shape.slice(1))];
}

function lohaModule(base: string, x: string, tensors: Header, used: Set<string>): LohaModule {
  const names = ['hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b'].map((n) => `${x}.${n}`);
  const [w1a, w1b, w2a, w2b] = names.map((n) => matrix(base, n, need(base, tensors, n)));
  if (w1a[1] !== w1b[0] || w2a[1] !== w2b[0] || w1a[0] !== w2a[0] || w1b[1] !== w2b[1] || w1b[0] > MAX_RANK || w2b[0] > MAX_RANK) {
    throw new LoraFileError(`${base}: LoHa module '${x}' has factors that do not chain ([${w1a}]·[${w1b}] ⊙ [${w2a}]·[${w2b}])`);
  }
  names.forEach((n) => used.add(n));
  const alpha = alphaOf(base, x, tensors, used);
  return { kind: 'loha', name: x, w1a: names[0], w1b: names[1], w2a: names[2], w2b: names[3], rank: w1b[0], alpha, outDim: w1a[0], inShape: [w1b[1]], tensors: [...names, ...(alpha ? [alpha] : [])] };
}

function lokrModule(base: string, x: string, tensors: Header, used: Set<string>): LokrModule {
  const n = (s: string) => `${x}.lokr_${s}`;
  const m: LokrModule = { kind: 'lokr', name: x, outDim: 0, inShape: [], tensors: [], f1: [0, 0], f2: [0, 0] };
  const side = (i: 1 | 2): [number, number] => {
    const full = n(`w${i}`);
    if (tensors.has(full)) {
      m[`w${i}`] = full;
      m.tensors.push(full);
      return matrix(base, full, tensors.get(full)!.shape);
    }
    const a = n(`w${i}_a`);
    const b = n(`w${i}_b`);
    const sa = matrix(base, a, need(base, tensors, a));
    const sb = matrix(base, b, need(base, tensors, b));
    if (sa[1] !== sb[0] || sb[0] > MAX_RANK) throw new LoraFileError(`${base}: LoKr module '${x}' has factors of shapes [${sa}] and [${sb}] that do not chain`);
    m[`w${i}a`] = a;
    m[`w${i}b`] = b;
    m.tensors.push(a, b);
    m.dim = sb[0];
    return [sa[0], sb[1]];
  };
  m.f1 = side(1);
  m.f2 = side(2);
  if (count(m.f1) * count(m.f2) > 2 ** 31) throw new LoraFileError(`${base}: LoKr module '${x}' is too large`);
  m.outDim = m.f1[0] * m.f2[0];
  m.inShape = [m.f1[1] * m.f2[1]];
  m.tensors.forEach((t) => used.add(t));
  m.alpha = alphaOf(base, x, tensors, used);
  if (m.alpha) m.tensors.push(m.alpha);
  return m;
}

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
export function modulesOf(base: string, tensors: Header): { modules: LoraModule[]; stray: string[] } {
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
      const alpha = alphaOf(base, x, tensors, used);
      used.add(name).add(down);
      modules.push({ kind: 'lora', name: x, up: name, down, mid, alpha, rank, outDim: up[0], inShape, tensors: [name, down, ...(mid ? [mid] : []), ...(alpha ? [alpha] : [])] });
      break;
    }
    if (name.endsWith('.hada_w1_a')) modules.push(lohaModule(base, name.slice(0, -'.hada_w1_a'.length), tensors, used));
    const lokr = /^(.*)\.lokr_(w1|w1_a)$/.exec(name);
    if (lokr && !(lokr[2] === 'w1_a' && tensors.has(`${lokr[1]}.lokr_w1`))) modules.push(lokrModule(base, lokr[1], tensors, used));
  }
  for (const m of modules) {
    const dora = `${m.name}.dora_scale`;
    if (!tensors.has(dora)) continue;
    m.dora = dora;
    m.doraCount = count(tensors.get(dora)!.shape);
    m.tensors.push(dora);
    used.add(dora);
  }
  const stray = [...tensors.keys()].filter((n) => !used.has(n)).sort();
  return { modules, stray };
}
