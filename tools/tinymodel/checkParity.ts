// Compares models.py (PyTorch) with Marble's checkpoint builders on a random-weight checkpoint
// written by parity.py: detection from shapes, then text encoder, U-Net, VAE encoder and decoder
// outputs. Prints the largest absolute differences; exits 1 above 1e-3.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { detectCheckpoint } from '../../src/inference/checkpoint/detect';
import { SafetensorsFile } from '../../src/inference/safetensors/read';
import { writeOnnxFolder } from '../refgen/onnxFolder';

async function main(dir: string): Promise<void> {
  const ckpt = path.join(dir, 'ckpt.safetensors');
  const file = await SafetensorsFile.open(ckpt);
  const det = detectCheckpoint(file);
  await file.close();
  console.log('detected', det.family, det.prediction, JSON.stringify(det.unet!.config));
  const folder = path.join(dir, 'onnx');
  await writeOnnxFolder(ckpt, folder, { unet: det.unet!.config, clip: det.clip!.config, vae: det.vae!.config });
  const io = await SafetensorsFile.open(path.join(dir, 'io.safetensors'));
  const f32 = async (n: string) => io.readFloat32(n);
  const shape = (n: string) => [...io.tensors.get(n)!.shape];
  const run = async (c: string, feeds: Record<string, ort.Tensor>, out: string) => {
    const s = await ort.InferenceSession.create(path.join(folder, c, 'model.onnx'));
    const r = await s.run(feeds);
    await s.release();
    return r[out].data as Float32Array;
  };
  const diff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const ids = Int32Array.from(await f32('ids'), (v) => Math.round(v));
  const results: Record<string, number> = {};
  // One unused zero row: the converted encoder's textual-inversion input (no embeddings here).
  const width = shape('ctx').at(-1)!;
  const noExtra = new ort.Tensor('float32', new Float32Array(width), [1, width]);
  results.text = diff(await run('text_encoder', { input_ids: new ort.Tensor('int32', ids, shape('ids')), extra_token_embeddings: noExtra }, 'last_hidden_state'), await f32('ctx'));
  results.unet = diff(
    await run('unet', { sample: new ort.Tensor('float32', await f32('x'), shape('x')), timestep: new ort.Tensor('float32', await f32('t'), [2]), encoder_hidden_states: new ort.Tensor('float32', await f32('ctx'), shape('ctx')) }, 'out_sample'),
    await f32('eps'),
  );
  results.vae_encoder = diff(await run('vae_encoder', { sample: new ort.Tensor('float32', await f32('img'), shape('img')) }, 'latent_sample'), await f32('mean'));
  const x = await f32('x');
  results.vae_decoder = diff(await run('vae_decoder', { latent_sample: new ort.Tensor('float32', x.slice(0, 256), [1, 4, 8, 8]) }, 'sample'), await f32('dec'));
  await io.close();
  console.log('max |ONNX − PyTorch|:', JSON.stringify(results));
  if (Object.values(results).some((v) => !(v < 1e-3))) process.exit(1);
}

main(process.argv[2]).catch((e) => {
  console.error(e);
  process.exit(1);
});
