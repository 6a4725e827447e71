// Weight access by canonical name. Detection works on names and shapes only (so the full key
// lists of real checkpoints can be tested without their gigabytes); the values are read lazily,
// and renamed, sliced, transposed or reshaped on the way out, the way ComfyUI rewrites state
// dicts when it loads them.
import type { SafetensorsDtype, SafetensorsFile } from '../safetensors/read';

/** What detection needs of a file: tensor names and shapes, and reads by the file's own names. */
export interface TensorSource {
  readonly file: string;
  readonly tensors: ReadonlyMap<string, { shape: number[]; dtype?: SafetensorsDtype }>;
  float32(name: string): Promise<Float32Array>;
  /** Elements [first, first + count) in C order; falls back to slicing a full read when absent. */
  float32Range?(name: string, first: number, count: number): Promise<Float32Array>;
  /** Small synchronous reads for detection decisions (SD2 v-prediction); absent = not available. */
  float32Sync?(name: string): Float32Array;
}

export interface WeightSource {
  names(): string[];
  has(name: string): boolean;
  shape(name: string): number[];
  float32(name: string): Promise<Float32Array>;
}

export function sourceOfSafetensors(file: SafetensorsFile): TensorSource {
  return {
    file: file.file,
    tensors: file.tensors,
    float32: (n) => file.readFloat32(n),
    float32Range: (n, first, count) => file.readFloat32Range(n, first, count),
    float32Sync: (n) => file.readFloat32Sync(n),
  };
}

/**
 * A name → shape map with no values (e.g. a manifest of a 2 GB checkpoint): detection runs on it;
 * reading values fails with a message saying so, unless `values` provides them.
 */
export function sourceOfShapes(file: string, shapes: Iterable<[string, number[]]>, values?: (name: string) => Float32Array): TensorSource {
  const tensors = new Map<string, { shape: number[] }>();
  for (const [name, shape] of shapes) tensors.set(name, { shape: [...shape] });
  const read = (name: string): Float32Array => {
    if (!values) throw new Error(`${file}: '${name}' has no values (a name and shape listing)`);
    return values(name);
  };
  return { file, tensors, float32: async (n) => read(n), float32Sync: values ? read : undefined };
}

/** How one canonical weight is produced from a tensor of the file. */
export interface WeightMapping {
  /** name in the file */
  raw: string;
  /** canonical shape */
  shape: number[];
  /** rows [start, start + count) of the first axis (a third of a fused q/k/v projection) */
  rows?: { start: number; count: number };
  /** 2-D transpose (OpenCLIP's text_projection is stored [in, out]) */
  transpose?: boolean;
}

const numel = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/** A WeightSource over a TensorSource through a canonical-name → mapping table. */
export class MappedWeights implements WeightSource {
  constructor(
    private readonly source: TensorSource,
    private readonly map: ReadonlyMap<string, WeightMapping>,
  ) {}

  names(): string[] {
    return [...this.map.keys()];
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /** The file's name for a canonical weight (for error messages and provenance). */
  rawName(name: string): string {
    return this.mapping(name).raw;
  }

  shape(name: string): number[] {
    return [...this.mapping(name).shape];
  }

  private mapping(name: string): WeightMapping {
    const m = this.map.get(name);
    if (!m) throw new Error(`${this.source.file}: no weight '${name}'`);
    return m;
  }

  async float32(name: string): Promise<Float32Array> {
    const m = this.mapping(name);
    let data: Float32Array;
    if (m.rows) {
      const rawShape = this.source.tensors.get(m.raw)!.shape;
      const rowSize = numel(rawShape.slice(1));
      const first = m.rows.start * rowSize;
      const count = m.rows.count * rowSize;
      data = this.source.float32Range ? await this.source.float32Range(m.raw, first, count) : (await this.source.float32(m.raw)).slice(first, first + count);
    } else {
      data = await this.source.float32(m.raw);
    }
    if (m.transpose) {
      const [r, c] = this.source.tensors.get(m.raw)!.shape;
      const out = new Float32Array(data.length);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = data[i * c + j];
      data = out;
    }
    if (data.length !== numel(m.shape)) {
      throw new Error(`${this.source.file}: '${m.raw}' gave ${data.length} values for '${name}' of shape [${m.shape.join(', ')}]`);
    }
    return data;
  }
}

/** Canonical = file name minus `prefix`, for every tensor under it that `keep` accepts. */
export function prefixMapping(source: TensorSource, prefix: string, keep: (canonical: string) => boolean = () => true): Map<string, WeightMapping> {
  const out = new Map<string, WeightMapping>();
  for (const [raw, t] of source.tensors) {
    if (!raw.startsWith(prefix)) continue;
    const name = raw.slice(prefix.length);
    if (keep(name)) out.set(name, { raw, shape: [...t.shape] });
  }
  return out;
}
