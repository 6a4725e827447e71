// `marble download <name|url>`: fetches a catalogue model or any direct URL (Hugging Face
// `resolve/` links, Civitai `api/download/models/…` links) into the right sub-folder of a
// ComfyUI-style models folder. Resumable: run it again after an interruption. Proxy from
// HTTPS_PROXY / HTTP_PROXY / NO_PROXY like other command-line tools.
import * as path from 'node:path';
import { MODEL_CATALOG, findCatalogEntry } from '../../download/catalog';
import { DownloadError, downloadModel, type DownloadProgress } from '../../download/downloadModel';
import { proxyFromEnv } from '../../download/httpGet';
import { parseArgs } from '../args';
import { CliError, processIO, type CliIO } from '../io';

const FOLDERS = ['checkpoints', 'vae', 'loras', 'embeddings', 'upscale_models', 'controlnet', 'clip', 'unet', 'diffusion_models', 'text_encoders'];

const USAGE = `Usage: marble download <name|url> [--models DIR] [--folder SUB] [--name FILE] [--sha256 HEX] [--force]
       marble download --list

Downloads a model into DIR/SUB/ (DIR defaults to ./models; SUB to the catalogue's folder, else
checkpoints). Interrupted downloads resume when run again. Names from the catalogue:
${MODEL_CATALOG.map((e) => `  ${e.id.padEnd(16)} ${e.label} (${e.sizeLabel}) → ${e.folder}/`).join('\n')}
Proxy: HTTPS_PROXY / HTTP_PROXY / NO_PROXY.`;

const MB = 1024 * 1024;

function formatProgress(p: DownloadProgress): string {
  const done = `${(p.received / MB).toFixed(1)}${p.total !== undefined ? ` / ${(p.total / MB).toFixed(1)}` : ''} MB`;
  const rate = `${(p.bytesPerSecond / MB).toFixed(1)} MB/s`;
  const eta = p.etaSeconds !== undefined ? `, ${formatSeconds(p.etaSeconds)} left` : '';
  const pct = p.total ? `${Math.floor((100 * p.received) / p.total)}% ` : '';
  return `${pct}${done} at ${rate}${eta}`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  return t >= 3600 ? `${Math.floor(t / 3600)} h ${Math.floor((t % 3600) / 60)} min` : t >= 60 ? `${Math.floor(t / 60)} min ${t % 60} s` : `${t} s`;
}

function bar(p: DownloadProgress, width = 30): string {
  const frac = p.total ? Math.min(1, p.received / p.total) : 0;
  const full = Math.round(frac * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${formatProgress(p)}`;
}

export async function run(argv: string[], io: CliIO = processIO, signal?: AbortSignal): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const { positionals, flags } = parseArgs(argv, { values: ['models', 'folder', 'name', 'sha256'], switches: ['force', 'list'], usage: USAGE });
  if (flags.list) {
    for (const e of MODEL_CATALOG) io.out(`${e.id}\t${e.folder}/${e.file}\t${e.sizeLabel}\t${e.sha256 ?? '-'}\t${e.url}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new CliError(`expected one model name or URL\n${USAGE}`);
  const what = positionals[0]!;
  const entry = /^https?:\/\//i.test(what) ? undefined : findCatalogEntry(what);
  if (!entry && !/^https?:\/\//i.test(what)) {
    throw new CliError(`'${what}' is neither a catalogue name (${MODEL_CATALOG.map((e) => e.id).join(', ')}) nor an http(s) URL`);
  }
  const sub = (flags.folder as string | undefined) ?? entry?.folder ?? 'checkpoints';
  if (!FOLDERS.includes(sub)) throw new CliError(`--folder ${sub}: expected one of ${FOLDERS.join(', ')}`);
  const sha = flags.sha256 as string | undefined;
  if (sha !== undefined && !/^[0-9a-f]{64}$/i.test(sha)) throw new CliError('--sha256 expects 64 hex digits');
  const models = path.resolve((flags.models as string | undefined) ?? 'models');
  const folder = path.join(models, sub);
  const url = entry?.url ?? what;

  const tty = io === processIO && !!process.stderr.isTTY;
  let lastLine = -1;
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  signal?.addEventListener('abort', onSigint, { once: true });
  if (io === processIO) process.once('SIGINT', onSigint);
  io.err(`Downloading ${entry ? `${entry.label} ` : ''}${url}\n  into ${folder}${path.sep}\n`);
  try {
    const r = await downloadModel({
      url, folder, fileName: (flags.name as string | undefined) ?? entry?.file, expectedBytes: entry?.bytes,
      sha256: sha ?? entry?.sha256, signal: ac.signal, proxy: proxyFromEnv(url), overwrite: flags.force === true,
      progressIntervalMs: tty ? 200 : 1000,
      onProgress: (p) => {
        if (tty) {
          process.stderr.write(`\r${bar(p)}\x1b[K`);
          return;
        }
        // Plain lines: one per 10 % (or per 100 MB when the size is unknown).
        const step = p.total ? Math.floor((10 * p.received) / p.total) : Math.floor(p.received / (100 * MB));
        if (step !== lastLine) {
          lastLine = step;
          io.err(`  ${formatProgress(p)}\n`);
        }
      },
    });
    if (tty) process.stderr.write('\n');
    const secs = r.elapsedMs / 1000;
    io.out(`${r.path}\n`);
    io.err(`Saved ${(r.bytes / MB).toFixed(1)} MB in ${secs.toFixed(1)} s${r.resumedFrom ? ` (resumed at ${(r.resumedFrom / MB).toFixed(1)} MB)` : ''}; SHA-256 ${r.sha256}${r.verifiedSha256 ? ' (verified)' : ' (no published hash to compare)'}\n`);
    return 0;
  } catch (e) {
    if (tty) process.stderr.write('\n');
    if (e instanceof DownloadError) {
      io.err(`marble download: ${e.message}\n`);
      return e.code === 'cancelled' ? 130 : 1;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
    signal?.removeEventListener('abort', onSigint);
  }
}
