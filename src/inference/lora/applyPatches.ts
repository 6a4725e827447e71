// Applies LoRA patches to one converted component without converting the checkpoint again: the
// cached graph is copied with only its patched initializers moved to a new external data file
// (`marble-lora.onnx_data`, base weight + Σ strength · α/r · up·down, in the stored layout), and
// every other initializer still read from the cached entry's own data file, hard-linked into the
// patched folder. ONNX Runtime then opens the patched folder like any model; the folder is only
// needed while the session is created. Arithmetic follows ComfyUI (comfy/weight_adapter/lora.py):
// the delta in float32, scaled by strength·α/r in float32, added to the float32 weight, patches
// in the order the LoraLoader nodes were chained.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { float16ToFloat32, float32ToFloat16 } from '../ort/float16';
import { SafetensorsFile } from '../safetensors/read';
import { externalOf, readComponentGraph, type PatchTarget } from './graphTargets';
import type { LoraModule, LowRankModule } from './loraFile';
import { nchwcFilterMap } from './nchwcLayout';

/** One LoraLoader's contribution to one component. */
export interface ComponentPatch {
  /** The LoRA file and its identity (size, mtime) when the node ran. */
  file: string;
  identity: string;
  strength: number;
  /** LoRA module → target weight name (graphTargets' canonical names). */
  modules: ReadonlyArray<{ module: LoraModule; target: string }>;
}

export const PATCH_DATA_FILE = 'marble-lora.onnx_data';
const ALIGN = 4096;

/** A key for the patched session: the same patches in the same order give the same key. */
export function patchKey(patches: readonly ComponentPatch[]): string {
  return patches.map((p) => `${p.file}\u0001${p.identity}\u0001${p.strength}`).join('\u0002');
}

async function readAt(fd: fsp.FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fd.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${offset + done}`);
    done += bytesRead;
  }
  return buf;
}

/** Σ_k up[o,k]·down[k,j] in float32, [out, K] row-major (K = in·kh·kw). */
function lowRankProduct(up: Float32Array, down: Float32Array, out: number, rank: number, K: number): Float32Array {
  const d = new Float32Array(out * K);
  for (let o = 0; o < out; o++) {
    const row = o * K;
    for (let k = 0; k < rank; k++) {
      const u = up[o * rank + k];
      if (u === 0) continue;
      const drow = k * K;
      for (let j = 0; j < K; j++) d[row + j] += u * down[drow + j];
    }
  }
  return d;
}

/** LoCon's Tucker form: down'[i, c, y, x] = Σ_j down[j, c] · mid[i, j, y, x]. */
function tuckerDown(down: Float32Array, mid: Float32Array, rank: number, inDim: number, kh: number, kw: number): Float32Array {
  const hw = kh * kw;
  const out = new Float32Array(rank * inDim * hw);
  for (let i = 0; i < rank; i++)
    for (let j = 0; j < rank; j++) {
      const m = mid.subarray((i * rank + j) * hw, (i * rank + j + 1) * hw);
      for (let c = 0; c < inDim; c++) {
        const dv = down[j * inDim + c];
        if (dv === 0) continue;
        const base = (i * inDim + c) * hw;
        for (let p = 0; p < hw; p++) out[base + p] += dv * m[p];
      }
    }
  return out;
}

/** Row-major [rows, cols] product of [rows, k] and [k, cols], accumulated in float32. */
function matmul(a: Float32Array, b: Float32Array, rows: number, k: number, cols: number): Float32Array {
  return lowRankProduct(a, b, rows, k, cols);
}

/** kron(A [a, b], B [c, d]) as [a·c, b·d] row-major (ComfyUI's torch.kron then reshape). */
function kron(A: Float32Array, [a, b]: [number, number], B: Float32Array, [c, d]: [number, number]): Float32Array {
  const out = new Float32Array(a * c * b * d);
  const cols = b * d;
  for (let i1 = 0; i1 < a; i1++)
    for (let j1 = 0; j1 < b; j1++) {
      const v = A[i1 * b + j1];
      if (v === 0) continue;
      for (let i2 = 0; i2 < c; i2++) {
        const row = (i1 * c + i2) * cols + j1 * d;
        for (let j2 = 0; j2 < d; j2++) out[row + j2] = v * B[i2 * d + j2];
      }
    }
  return out;
}

/**
 * w[j·out + o] += f · Σ_k up[o,k]·down[k,j]: the same float32 sums as lowRankProduct followed by
 * addInto's transposed case, written row by row of the [in, out] layout instead of scattered.
 */
function addLowRankTransposed(w: Float32Array, up: Float32Array, down: Float32Array, out: number, rank: number, K: number, f: number): void {
  const acc = new Float32Array(out);
  const dk = new Float64Array(rank);
  for (let j = 0; j < K; j++) {
    for (let k = 0; k < rank; k++) dk[k] = down[k * K + j];
    acc.fill(0);
    for (let k = 0; k < rank; k++) {
      const d = dk[k];
      for (let o = 0; o < out; o++) {
        const u = up[o * rank + k];
        if (u !== 0) acc[o] += u * d;
      }
    }
    const base = j * out;
    for (let o = 0; o < out; o++) w[base + o] += Math.fround(f * acc[o]);
  }
}

async function lowRankFactors(st: SafetensorsFile, m: LowRankModule): Promise<{ up: Float32Array; down: Float32Array; scale: number }> {
  const up = await st.readFloat32(m.up);
  const down = await st.readFloat32(m.down);
  if (up.length !== m.outDim * m.rank || down.length !== m.rank * m.inShape[0]) throw new Error(`'${m.name}' changed since the LoRA was loaded; queue the prompt again`);
  let alpha = m.rank;
  if (m.alpha) {
    alpha = (await st.readFloat32(m.alpha))[0];
    if (!Number.isFinite(alpha)) throw new Error(`'${m.alpha}' is not a finite number`);
  }
  return { up, down, scale: alpha / m.rank };
}

/** The module's ΔW ([out, in·kh·kw], float32) and its α/r factor, as ComfyUI's weight adapters compute them. */
async function moduleDelta(st: SafetensorsFile, m: LoraModule): Promise<{ delta: Float32Array; scale: number }> {
  const read = async (name: string, expect: number) => {
    const v = await st.readFloat32(name);
    // The node checked the header; a file replaced since then must not index past its factors.
    if (v.length !== expect) throw new Error(`'${name}' changed since the LoRA was loaded (${v.length} values, expected ${expect}); queue the prompt again`);
    return v;
  };
  const alphaValue = async () => {
    if (!m.alpha) return undefined;
    const a = (await st.readFloat32(m.alpha))[0];
    if (!Number.isFinite(a)) throw new Error(`'${m.alpha}' is not a finite number`);
    return a;
  };
  const K = m.inShape.reduce((a, b) => a * b, 1);
  if (m.kind === 'lora') {
    const up = await read(m.up, m.outDim * m.rank);
    let down = await read(m.down, m.mid ? m.rank * m.inShape[0] : m.rank * K);
    if (m.mid) down = tuckerDown(down, await read(m.mid, m.rank * m.rank * m.inShape[1] * m.inShape[2]), m.rank, m.inShape[0], m.inShape[1], m.inShape[2]);
    return { delta: lowRankProduct(up, down, m.outDim, m.rank, K), scale: ((await alphaValue()) ?? m.rank) / m.rank };
  }
  if (m.kind === 'loha') {
    const r2 = st.tensors.get(m.w2b)!.shape[0];
    const m1 = matmul(await read(m.w1a, m.outDim * m.rank), await read(m.w1b, m.rank * K), m.outDim, m.rank, K);
    const m2 = matmul(await read(m.w2a, m.outDim * r2), await read(m.w2b, r2 * K), m.outDim, r2, K);
    for (let i = 0; i < m1.length; i++) m1[i] *= m2[i];
    return { delta: m1, scale: ((await alphaValue()) ?? m.rank) / m.rank };
  }
  const side = async (full: string | undefined, a: string | undefined, b: string | undefined, [rows, cols]: [number, number]) => {
    if (full) return read(full, rows * cols);
    const r = st.tensors.get(b!)!.shape[0];
    return matmul(await read(a!, rows * r), await read(b!, r * cols), rows, r, cols);
  };
  const w1 = await side(m.w1, m.w1a, m.w1b, m.f1);
  const w2 = await side(m.w2, m.w2a, m.w2b, m.f2);
  const alpha = await alphaValue();
  return { delta: kron(w1, m.f1, w2, m.f2), scale: alpha !== undefined && m.dim !== undefined ? alpha / m.dim : 1 };
}

/** Adds `s · delta` ([out, K] row-major, PyTorch's layout) into `w` stored in `t`'s layout. */
async function addInto(w: Float32Array, t: PatchTarget, delta: Float32Array, s: number): Promise<void> {
  const out = t.shape[0];
  const K = delta.length / out;
  const f = Math.fround(s);
  if (t.layout === 'transposed') {
    for (let o = 0; o < out; o++) for (let j = 0; j < K; j++) w[j * out + o] += Math.fround(f * delta[o * K + j]);
  } else if (t.layout === 'nchwc') {
    const map = await nchwcFilterMap(t.shape, t.conv!);
    if (map.length !== w.length) throw new Error(`${t.name}: the reordered filter holds ${w.length} values, the layout probe ${map.length}`);
    for (let d = 0; d < map.length; d++) if (map[d] >= 0) w[d] += Math.fround(f * delta[map[d]]);
  } else {
    for (let i = 0; i < delta.length; i++) w[i] += Math.fround(f * delta[i]);
  }
}

/** The stored weight in PyTorch's [out, in, …] order (a copy). */
async function toLogical(w: Float32Array, t: PatchTarget): Promise<Float32Array> {
  const out = t.shape[0];
  const n = t.shape.reduce((a, b) => a * b, 1);
  const K = n / out;
  const l = new Float32Array(n);
  if (t.layout === 'transposed') {
    for (let j = 0; j < K; j++) for (let o = 0; o < out; o++) l[o * K + j] = w[j * out + o];
  } else if (t.layout === 'nchwc') {
    const map = await nchwcFilterMap(t.shape, t.conv!);
    for (let d = 0; d < map.length; d++) if (map[d] >= 0) l[map[d]] = w[d];
  } else {
    l.set(w.subarray(0, n));
  }
  return l;
}

/** Writes a [out, in, …] weight back into the stored layout. */
async function fromLogical(l: Float32Array, t: PatchTarget, w: Float32Array): Promise<void> {
  const out = t.shape[0];
  const K = l.length / out;
  if (t.layout === 'transposed') {
    for (let j = 0; j < K; j++) for (let o = 0; o < out; o++) w[j * out + o] = l[o * K + j];
  } else if (t.layout === 'nchwc') {
    const map = await nchwcFilterMap(t.shape, t.conv!);
    for (let d = 0; d < map.length; d++) if (map[d] >= 0) w[d] = l[map[d]];
  } else {
    w.set(l);
  }
}

/**
 * DoRA (ComfyUI's weight_decompose): W' = W + α/r·ΔW, scaled per input channel j to
 * dora_scale[j] / ‖W'[:, j, …]‖; then W + strength·(W' − W) (exactly W' at strength 1).
 */
function applyDora(w: Float32Array, shape: readonly number[], delta: Float32Array, scale: number, dora: Float32Array, strength: number): void {
  const out = shape[0];
  const inDim = shape[1];
  const hw = w.length / (out * inDim);
  const a = Math.fround(scale);
  const calc = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) calc[i] = w[i] + Math.fround(a * delta[i]);
  const norms = new Float64Array(inDim);
  for (let o = 0; o < out; o++)
    for (let j = 0; j < inDim; j++)
      for (let p = 0; p < hw; p++) {
        const v = calc[(o * inDim + j) * hw + p];
        norms[j] += v * v;
      }
  const factor = Float32Array.from(norms, (n, j) => dora[j] / Math.fround(Math.sqrt(n)));
  const s = Math.fround(strength);
  for (let o = 0; o < out; o++)
    for (let j = 0; j < inDim; j++)
      for (let p = 0; p < hw; p++) {
        const i = (o * inDim + j) * hw + p;
        const v = Math.fround(calc[i] * factor[j]);
        w[i] = strength === 1 ? v : w[i] + Math.fround(s * Math.fround(v - w[i]));
      }
}

/**
 * Hard-links `from` to `to`, else copies it: the cached weights are never duplicated when both
 * are on one file system. (ONNX Runtime refuses external data reached through a symlink that
 * leaves the model's folder, so a symlink is no option.)
 */
async function linkData(from: string, to: string): Promise<void> {
  try {
    await fsp.link(from, to);
  } catch {
    await fsp.copyFile(from, to);
  }
}

/**
 * A new private folder for the patched copy, on the same disk as the model so hard links work:
 * beside its conversion-cache entry, or inside an ONNX folder of the user's (hidden, removed
 * once the session exists); the temp folder when that is not writable.
 */
async function makeWorkDir(modelFile: string): Promise<string> {
  const modelDir = path.dirname(path.dirname(modelFile));
  const inCache = fs.existsSync(path.join(modelDir, 'marble-conversion.json'));
  // Named like the conversion cache's temp folders: a crash leaves nothing its sweep does not remove (owner pid).
  const name = `.tmp-${process.pid}-${randomBytes(4).toString('hex')}-lora`;
  for (const root of [inCache ? path.dirname(modelDir) : modelDir, os.tmpdir()]) {
    const dir = path.join(root, name);
    try {
      await fsp.mkdir(dir);
      return dir;
    } catch {
      // read-only or missing: try the next place
    }
  }
  throw new Error(`cannot create a folder for the LoRA-patched copy of ${modelFile} (tried beside it and in ${os.tmpdir()})`);
}

export interface PatchedModel {
  /** model.onnx of the patched folder. */
  file: string;
  /** Tensors patched, bytes of the patch data file, seconds spent. */
  patched: number;
  patchBytes: number;
  seconds: number;
  dispose(): Promise<void>;
}

export interface PatchOptions {
  /**
   * Round each patched weight to float16 (nearest even) after the float32 sum. ComfyUI keeps
   * text-encoder weights in float16 on every device (model_management.text_encoder_dtype), so a
   * patched CLIP weight is stored as fp16(W + ΔW) there; the U-Net stays float32 on the CPU.
   */
  roundToHalf?: boolean;
}

/**
 * Writes a patched copy of `modelFile` (graph + patch data, base data linked) and returns its
 * path; `dispose()` removes it (call it once the session is created).
 */
export async function writePatchedModel(modelFile: string, patches: readonly ComponentPatch[], opts: PatchOptions = {}): Promise<PatchedModel> {
  const t0 = performance.now();
  const comp = await readComponentGraph(modelFile);
  const srcDir = path.dirname(modelFile);
  const dir = await makeWorkDir(modelFile);
  const dispose = () => fsp.rm(dir, { recursive: true, force: true });
  const files = new Map<string, fsp.FileHandle>();
  const loras = new Map<string, SafetensorsFile>();
  let patchFd: fsp.FileHandle | undefined;
  try {
    await fsp.writeFile(path.join(dir, '.owner.json'), JSON.stringify({ pid: process.pid, host: os.hostname() }));
    // Every target's patches in chain order.
    const byTarget = new Map<string, { patch: ComponentPatch; module: LoraModule }[]>();
    for (const p of patches) {
      if (p.strength === 0) continue;
      for (const { module, target } of p.modules) {
        if (!comp.targets.has(target)) throw new Error(`${path.basename(p.file)}: '${module.name}' targets ${target}, which ${modelFile} does not have`);
        let list = byTarget.get(target);
        if (!list) byTarget.set(target, (list = []));
        list.push({ patch: p, module });
      }
    }
    patchFd = await fsp.open(path.join(dir, PATCH_DATA_FILE), 'w');
    let offset = 0;
    for (const [name, list] of byTarget) {
      const target = comp.targets.get(name)!;
      const init = comp.initializers.get(target.init)!;
      const ext = externalOf(init);
      let bytes: Uint8Array;
      if (ext) {
        let fd = files.get(ext.location);
        if (!fd) files.set(ext.location, (fd = await fsp.open(path.join(srcDir, ext.location), 'r')));
        bytes = await readAt(fd, ext.offset, ext.length);
      } else if (init.rawData?.length) {
        bytes = Uint8Array.from(init.rawData);
      } else {
        throw new Error(`${modelFile}: initializer ${target.init} has no raw data to patch`);
      }
      const w =
        target.dtype === 'float32'
          ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
          : float16ToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
      for (const { patch, module } of list) {
        let st = loras.get(patch.file);
        if (!st) loras.set(patch.file, (st = await SafetensorsFile.open(patch.file)));
        const expect = target.shape.reduce((a, b) => a * b, 1);
        if (module.dora) {
          const { delta, scale } = await moduleDelta(st, module);
          if (delta.length !== expect) throw new Error(`${path.basename(patch.file)}: '${module.name}' gives ${delta.length} values for ${name} of shape [${target.shape.join(', ')}]`);
          const dora = await st.readFloat32(module.dora);
          if (dora.length !== target.shape[1]) throw new Error(`'${module.dora}' changed since the LoRA was loaded; queue the prompt again`);
          const logical = await toLogical(w, target);
          applyDora(logical, target.shape, delta, scale, dora, patch.strength);
          await fromLogical(logical, target, w);
          continue;
        }
        if (target.layout === 'transposed' && module.kind === 'lora' && !module.mid && module.outDim * module.inShape[0] === expect) {
          // The common case (attention projections): ΔWᵀ straight into the [in, out] layout.
          const { up, down, scale } = await lowRankFactors(st, module);
          addLowRankTransposed(w, up, down, module.outDim, module.rank, module.inShape[0], Math.fround(patch.strength * scale));
          continue;
        }
        const { delta, scale } = await moduleDelta(st, module);
        if (delta.length !== expect) throw new Error(`${path.basename(patch.file)}: '${module.name}' gives ${delta.length} values for ${name} of shape [${target.shape.join(', ')}]`);
        await addInto(w, target, delta, patch.strength * scale);
      }
      if (opts.roundToHalf && target.dtype === 'float32') float16ToFloat32(float32ToFloat16(w), w);
      const out = target.dtype === 'float32' ? new Uint8Array(w.buffer, w.byteOffset, w.byteLength) : new Uint8Array(float32ToFloat16(w).buffer);
      const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
      if (pad) await patchFd.write(new Uint8Array(pad), 0, pad, offset);
      offset += pad;
      await patchFd.write(out, 0, out.byteLength, offset);
      init.rawData = null;
      init.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      init.externalData = [
        { key: 'location', value: PATCH_DATA_FILE },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(out.byteLength) },
      ];
      offset += out.byteLength;
    }
    await patchFd.close();
    patchFd = undefined;
    const locations = new Set<string>();
    for (const t of comp.initializers.values()) {
      const e = externalOf(t);
      if (e && e.location !== PATCH_DATA_FILE) locations.add(e.location);
    }
    for (const loc of locations) {
      if (loc.includes('/') || loc.includes('\\') || loc === '..') throw new Error(`${modelFile}: external data location '${loc}' is not a plain file name`);
      await linkData(path.join(srcDir, loc), path.join(dir, loc));
    }
    const file = path.join(dir, 'model.onnx');
    await fsp.writeFile(file, onnx.ModelProto.encode(comp.model).finish());
    return { file, patched: byTarget.size, patchBytes: offset, seconds: (performance.now() - t0) / 1000, dispose };
  } catch (e) {
    await patchFd?.close().catch(() => undefined);
    await dispose();
    throw e;
  } finally {
    for (const fd of files.values()) await fd.close().catch(() => undefined);
    for (const st of loras.values()) await st.close().catch(() => undefined);
  }
}
