// The tiny shapes model Marble ships (resources/models/marble-shapes-tiny.safetensors, trained by
// tools/tinymodel): its file name and how it is sampled, from the sidecar JSON next to it, so the
// extension, the CLI demo, the README grid and the semantic test use one set of values.
import settings from '../../resources/models/marble-shapes-tiny.json';

export interface DemoModelSettings {
  /** File name under a models folder's checkpoints/ (and under resources/models/). */
  checkpoint: string;
  /** It was trained on 64×64 images; other sizes draw worse pictures. */
  width: number;
  height: number;
  seed: number;
  steps: number;
  cfg: number;
  sampler_name: string;
  scheduler: string;
  /** Its CLIP only learned the caption words; ComfyUI's default negative is unknown words to it. */
  negative: string;
  /** A bound checked before the file is copied or shipped. */
  maxBytes: number;
  examplePrompt: string;
}

export const DEMO_MODEL: Readonly<DemoModelSettings> = Object.freeze({ ...settings });
