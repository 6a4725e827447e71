// `marble serve`: ComfyUI's server API (HTTP + WebSocket) over Marble's engine, so ComfyUI
// clients, scripts and client libraries can queue prompts against it unchanged.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { defaultRuntimeConfig } from '../../inference/nodes/runtimeConfig';
import { MarbleServer } from '../../server/httpServer';
import { isAllInterfaces, isLoopbackHost } from '../../server/requestGuard';
import { CliError, processIO, type CliIO } from '../io';

const USAGE = `Usage: marble serve [options]

Serves ComfyUI's HTTP and WebSocket API (POST /prompt, /ws, /history, /view, /upload/image, …)
over Marble's engine, for ComfyUI clients and scripts.

Options:
  --listen <addr>        address to listen on (default 127.0.0.1; 0.0.0.0 exposes it to your network)
  --port <n>             port (default 8188; 0 picks a free one)
  --models <dir>         a models folder (checkpoints/, vae/, …); repeat for several (default ./models)
  --output <dir>         where SaveImage writes (default ./output)
  --input <dir>          where LoadImage reads and uploads go (default ./input)
  --temp <dir>           PreviewImage's folder (default ./temp)
  --ep <name>            execution provider: auto, cpu, cuda, webgpu, … (default auto)
  --preview-method <m>   auto (default) sends sampler previews over the websocket; none sends none
                         (ComfyUI's own default is none; latent2rgb and taesd are taken as auto)
  --no-previews          same as --preview-method none
  --max-upload-size <mb> largest upload in MB (default 100, as ComfyUI)
  --allow-host <name>    also answer requests addressed to this host name (repeatable)
  --allow-origin <url>   let browser pages from this origin call the API (repeatable; * = any)
  -h, --help             show this help`;

export interface ServeArgs {
  listen: string;
  port: number;
  models: string[];
  output?: string;
  input?: string;
  temp?: string;
  ep: string;
  previews: boolean;
  maxUploadMb: number;
  allowHosts: string[];
  allowOrigins: string[];
}

export function parseServeArgs(argv: string[]): ServeArgs | 'help' {
  const a: ServeArgs = { listen: '127.0.0.1', port: 8188, models: [], ep: 'auto', previews: true, maxUploadMb: 100, allowHosts: [], allowOrigins: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      const v = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '' || (eq < 0 && v.startsWith('--'))) throw new CliError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '-h': case '--help': return 'help';
      case '--listen': a.listen = value(); break;
      case '--port': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > 65535) throw new CliError(`--port must be 0-65535, got '${v}'`);
        a.port = n;
        break;
      }
      case '--models': a.models.push(value()); break;
      case '--output': a.output = value(); break;
      case '--input': a.input = value(); break;
      case '--temp': a.temp = value(); break;
      case '--ep': a.ep = value(); break;
      case '--no-previews': a.previews = false; break;
      case '--preview-method': {
        const v = value();
        if (!['none', 'auto', 'latent2rgb', 'taesd'].includes(v)) throw new CliError(`--preview-method must be none, auto, latent2rgb or taesd, got '${v}'`);
        a.previews = v !== 'none';
        break;
      }
      case '--max-upload-size': {
        const v = value();
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) throw new CliError(`--max-upload-size must be a positive number of MB, got '${v}'`);
        a.maxUploadMb = n;
        break;
      }
      case '--allow-host': a.allowHosts.push(value()); break;
      case '--allow-origin': a.allowOrigins.push(value()); break;
      default: throw new CliError(`unknown ${arg.startsWith('-') ? 'option' : 'argument'} ${arg}`);
    }
  }
  return a;
}

function inferenceEntry(): string {
  const candidates = [process.env.MARBLE_INFERENCE_ENTRY, path.join(__dirname, 'inference.js'), path.resolve(__dirname, '../../../dist/inference.js')];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new CliError('cannot find dist/inference.js (run npm run build, or set MARBLE_INFERENCE_ENTRY)');
  return found;
}

function packageVersion(): string {
  for (const p of [path.resolve(__dirname, '../package.json'), path.resolve(__dirname, '../../../package.json')]) {
    try {
      return (require(p) as { version: string }).version;
    } catch {
      // try the next layout (bundled dist/ or src/)
    }
  }
  return '0.0.0';
}

export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  let args: ServeArgs;
  try {
    const parsed = parseServeArgs(argv);
    if (parsed === 'help') {
      io.out(USAGE + '\n');
      return 0;
    }
    args = parsed;
  } catch (e) {
    io.err(`marble serve: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const cfg = defaultRuntimeConfig(process.cwd());
  const engine = {
    ...cfg,
    modelsRoots: args.models.length ? args.models.map((m) => path.resolve(m)) : cfg.modelsRoots,
    outputDir: args.output ? path.resolve(args.output) : cfg.outputDir,
    inputDir: args.input ? path.resolve(args.input) : cfg.inputDir,
    tempDir: args.temp ? path.resolve(args.temp) : cfg.tempDir,
    ep: args.ep,
    previews: args.previews,
  };
  if (isAllInterfaces(args.listen) || !isLoopbackHost(args.listen)) {
    io.err(`WARNING: listening on ${args.listen} lets other machines on your network queue prompts, read your output/input/temp\n` +
      `images and upload files, without authentication. Use it only on a network you trust.\n`);
  }
  const server = new MarbleServer({
    listen: args.listen,
    port: args.port,
    entry: inferenceEntry(),
    engine,
    maxUploadBytes: Math.round(args.maxUploadMb * 1024 * 1024),
    allowHosts: args.allowHosts,
    allowOrigins: args.allowOrigins,
    version: packageVersion(),
    argv: ['marble', 'serve', ...argv],
    log: (line) => io.err(line + '\n'),
  });
  const { port, address } = await server.start();
  const shown = address.includes(':') ? `[${address}]` : address;
  io.err(`models: ${engine.modelsRoots.join(', ')}\noutput: ${engine.outputDir}\ninput:  ${engine.inputDir}\n`);
  io.out(`To see the API, visit http://${shown}:${port} (ComfyUI API; websocket at /ws)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.err('stopping…\n');
  await server.close();
  return 0;
}
