// `marble convert-checkpoint <file.safetensors> --out DIR [--precision fp32|fp16] [--as checkpoint|vae|unet|clip]`:
// writes an optimum-layout ONNX folder (model_index.json, text_encoder/, unet/, vae_decoder/,
// vae_encoder/, tokenizer/, scheduler/) that Marble and other ONNX Runtime tools open. The folder
// appears complete or not at all. Exit 0 done, 2 usage or a bad input file.
import * as path from 'node:path';
import type { Precision, SourceRole } from '../../inference/checkpoint/conversionCache';
import { parseArgs } from '../args';
import { CliError, processIO, type CliIO } from '../io';

export const USAGE = `usage: marble convert-checkpoint <file.safetensors> --out DIR [--precision fp32|fp16] [--as checkpoint|vae|unet|clip]

Builds ONNX graphs from a Stable Diffusion 1.x/2.x .safetensors file (a full checkpoint, or a
standalone VAE, U-Net or CLIP text encoder with --as) into a new folder in optimum's layout.
  --out DIR         the folder to create (must not exist, or be empty)
  --precision P     fp32 (default; CPU) or fp16 weights (GPU execution providers)
  --as ROLE         what the file is: checkpoint (default), vae, unet, clip`;

const ROLES: readonly SourceRole[] = ['checkpoint', 'vae', 'unet', 'clip'];

export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  const args = parseArgs(argv, { values: ['out', 'precision', 'as'], switches: ['help', 'json'], usage: USAGE });
  if (args.flags.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  if (args.positionals.length !== 1) throw new CliError(`expected exactly one .safetensors file\n${USAGE}`);
  if (typeof args.flags.out !== 'string') throw new CliError(`--out DIR is required\n${USAGE}`);
  const precision = (args.flags.precision ?? 'fp32') as Precision;
  if (precision !== 'fp32' && precision !== 'fp16') throw new CliError(`--precision must be fp32 or fp16, got '${String(args.flags.precision)}'`);
  const role = (args.flags.as ?? 'checkpoint') as SourceRole;
  if (!ROLES.includes(role)) throw new CliError(`--as must be one of ${ROLES.join(', ')}, got '${String(args.flags.as)}'`);
  const file = path.resolve(args.positionals[0]);
  const out = path.resolve(args.flags.out);
  const { convertCheckpointToFolder } = await import('../../inference/checkpoint/convertCheckpoint');
  const started = Date.now();
  const tty = io === processIO && process.stderr.isTTY;
  let last = -1;
  try {
    const summary = await convertCheckpointToFolder(file, out, {
      role,
      precision,
      onProgress(f) {
        const pct = Math.floor(f * 100);
        if (pct === last) return;
        last = pct;
        if (tty) io.err(`\r\x1b[KPreparing ${path.basename(file)} for ONNX Runtime… ${pct}%`);
        else if (pct % 10 === 0) io.err(`Preparing ${path.basename(file)} for ONNX Runtime… ${pct}%\n`);
      },
    });
    if (tty) io.err('\r\x1b[K');
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (args.flags.json) io.out(JSON.stringify({ out, seconds: Number(seconds), ...summary }) + '\n');
    else io.out(`${out}\n`);
    io.err(`${summary.family} ${summary.prediction === 'v_prediction' ? 'v-prediction' : 'eps'} · ${summary.components.join(', ')} · ${precision} · ${seconds} s\n`);
    return 0;
  } catch (e) {
    if (tty) io.err('\r\x1b[K');
    // Bad input (truncated, lying header, pickle, unsupported family, wrong kind of file): one line.
    throw new CliError((e as Error).message.split('\n')[0]);
  }
}
