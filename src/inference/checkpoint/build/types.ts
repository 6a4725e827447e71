// The network configurations and weight source the builders consume. They mirror the types of
// ../detect.ts (architecture detection), kept structural so the builders can be exercised from
// tests with in-memory weights.

export interface UnetConfig {
  inChannels: number;
  outChannels: number;
  modelChannels: number;
  channelMult: number[];
  numResBlocks: number[];
  /** ComfyUI's transformer_depth: one per input ResBlock, in order (or one per level); 0 = none. */
  transformerDepth: number[];
  /** ComfyUI's transformer_depth_middle: ≥ 0 a transformer of that depth, −1 a lone ResBlock, −2 no middle block. */
  transformerDepthMiddle: number;
  /** ComfyUI's transformer_depth_output: one per output block, LAST entry = output block 0 (ComfyUI pops from the end). */
  transformerDepthOutput: number[];
  contextDim: number;
  /** -1 when numHeadChannels is used. */
  numHeads: number;
  /** -1 when numHeads is used. */
  numHeadChannels: number;
  useLinearInTransformer: boolean;
  admInChannels?: number;
}

export interface ClipTextConfig {
  kind: 'clip-l' | 'open-clip-h' | 'open-clip-g';
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  activation: 'quick_gelu' | 'gelu';
  projectionDim?: number;
  eosTokenId: number;
  padTokenId: number;
}

export interface VaeConfig {
  zChannels: number;
  ch: number;
  chMult: number[];
  numResBlocks: number;
  inChannels: number;
  outCh: number;
  scalingFactor: number;
}

/** Canonical (prefix-stripped) tensor names of one component, read on demand as float32. */
export interface WeightSource {
  names(): string[];
  has(name: string): boolean;
  shape(name: string): number[];
  float32(name: string): Promise<Float32Array>;
}

export interface BuildOptions {
  precision: 'fp32' | 'fp16';
  onProgress?: (done: number, total: number) => void;
  /** Attention kernel; default the one measured faster on the CPU EP (BENCHMARKS.md, issue 8). */
  attention?: 'matmul' | 'ort-mha';
}
