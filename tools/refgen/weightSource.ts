// A WeightSource over one component of a single-file SD1.x checkpoint: the file's names with the
// component's prefix stripped (canonical names). Enough for the reference-rule checkpoints, whose
// keys are already in the canonical layouts; real files go through src/inference/checkpoint's detection.
import type { WeightSource } from '../../src/inference/checkpoint/build/types';
import type { SafetensorsFile } from '../../src/inference/safetensors/read';

export const SD1_PREFIXES = {
  unet: 'model.diffusion_model.',
  clip: 'cond_stage_model.transformer.',
  vae: 'first_stage_model.',
} as const;

export function prefixedSource(file: SafetensorsFile, prefix: string): WeightSource {
  const names = [...file.tensors.keys()].filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
  const set = new Set(names);
  return {
    names: () => names,
    has: (n) => set.has(n),
    shape: (n) => {
      const t = file.tensors.get(prefix + n);
      if (!t) throw new Error(`${file.file}: no tensor '${prefix + n}'`);
      return [...t.shape];
    },
    float32: (n) => file.readFloat32(prefix + n),
  };
}
