// What the builders consume: the configurations and canonical weight sources that architecture
// detection (../detect.ts) produces. Note ComfyUI's transformer-depth layout (unet.ts
// inputDepth/outputDepth): `transformerDepthOutput` is consumed from its END, so its last entry
// belongs to output_blocks.0.
export type { ClipTextConfig, UnetConfig, VaeConfig, WeightSource } from '../detect';

export interface BuildOptions {
  precision: 'fp32' | 'fp16';
  onProgress?: (done: number, total: number) => void;
  /** Attention kernel; default the one measured faster on the CPU EP (BENCHMARKS.md, issue 8). */
  attention?: 'matmul' | 'ort-mha';
}
