// Builders for the real SD networks from checkpoint weights (issue 8): each writes model.onnx and
// its streamed external data file model.onnx_data.
export { writeClipTextOnnx } from './clipText';
export { writeUnetOnnx, timestepFrequencies } from './unet';
export { writeVaeDecoderOnnx, writeVaeEncoderOnnx } from './vae';
export type { BuildOptions, ClipTextConfig, UnetConfig, VaeConfig, WeightSource } from './types';
