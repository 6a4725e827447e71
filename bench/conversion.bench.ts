// First conversion of a `.safetensors` checkpoint through the conversion cache, and the cached
// load after it: time and peak RSS of each, each phase in its own process so peaks do not mix.
// Usage: node --import tsx bench/conversion.bench.ts [file.safetensors | --small] [--cache DIR] [--precision fp32|fp16]
// Default file: the full-size reference SD1.5 checkpoint (tools/refgen, generated into the test
// cache when missing, 2.1 GB). --small generates refgen's SD15_SMALL config instead.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConversionCache, diskBytes, type Precision } from '../src/inference/checkpoint/conversionCache';
import { prepareConversion } from '../src/inference/checkpoint/convertCheckpoint';
import { loadModelFolder } from '../src/inference/models';
import { SessionCache } from '../src/inference/ort/sessionCache';
import { ensureSd15Reference, writeRuleCheckpoint } from '../tools/refgen/generate';
import { SD15_SMALL } from '../tools/refgen/layout';

const mb = (n: number) => (n / 1024 ** 2).toFixed(0);
const peakRss = () => process.resourceUsage().maxRSS * 1024;

interface PhaseResult { [k: string]: number | string }

async function convertPhase(file: string, cacheDir: string, precision: Precision): Promise<PhaseResult> {
  const cache = new ConversionCache(cacheDir);
  const variant = { precision, epFamily: precision === 'fp16' ? 'gpu' : 'cpu', role: 'checkpoint' } as const;
  const t0 = performance.now();
  const r = await cache.ensure(file, { variant, prepare: () => prepareConversion(file, { role: 'checkpoint', precision }) });
  const ms = performance.now() - t0;
  if (!r.converted) throw new Error(`${cacheDir} already held this checkpoint; give an empty --cache`);
  return { convertMs: ms, peakRss: peakRss(), entryBytes: await diskBytes(r.dir) };
}

async function loadPhase(file: string, cacheDir: string, precision: Precision): Promise<PhaseResult> {
  const cache = new ConversionCache(cacheDir);
  const variant = { precision, epFamily: precision === 'fp16' ? 'gpu' : 'cpu', role: 'checkpoint' } as const;
  const t0 = performance.now();
  const hit = await cache.lookup(file, variant);
  const lookupMs = performance.now() - t0;
  if (!hit) throw new Error('cache miss in the load phase');
  const sessions = new SessionCache({ ep: 'cpu' });
  const t1 = performance.now();
  // What Load Checkpoint does: the U-Net session now, the others on first use.
  const loaded = await loadModelFolder(hit.dir, sessions, { open: ['unet'] });
  const unetMs = performance.now() - t1;
  const t2 = performance.now();
  for (const c of [loaded.textEncoder, loaded.vaeDecoder, loaded.vaeEncoder]) await c?.open();
  const restMs = performance.now() - t2;
  await sessions.freeAll();
  return { lookupMs, unetMs, restMs, cachedLoadMs: lookupMs + unetMs, allComponentsMs: lookupMs + unetMs + restMs, peakRss: peakRss() };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const phase = flag('--phase');
  const cacheArg = flag('--cache');
  const precision = (flag('--precision') ?? 'fp32') as Precision;
  if (phase) {
    const [file] = args;
    const r = phase === 'convert' ? await convertPhase(file, cacheArg!, precision) : await loadPhase(file, cacheArg!, precision);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const small = args.includes('--small');
  const work = mkdtempSync(path.join(os.tmpdir(), 'marble-convbench-'));
  let file = args.find((a) => !a.startsWith('--'));
  if (small) {
    file = path.join(work, 'small.safetensors');
    await writeRuleCheckpoint(file, SD15_SMALL, 1);
  }
  file ??= await ensureSd15Reference(undefined, (m) => console.error(m));
  const cacheDir = cacheArg ?? path.join(work, 'cache');
  const run = (p: string): PhaseResult => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, file!, '--phase', p, '--cache', cacheDir, '--precision', precision], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`${p} phase failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PhaseResult;
  };
  const load0 = os.loadavg()[0];
  const conv = run('convert');
  const load = run('load');
  const fileBytes = statSync(file).size;
  const fp32Weights = Number(conv.entryBytes);
  console.log(`conversion cache bench — ${new Date().toISOString()}`);
  console.log(`machine: ${os.cpus().length} CPUs, ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}; load average at start ${load0.toFixed(1)}, end ${os.loadavg()[0].toFixed(1)}`);
  console.log(`file: ${path.basename(file)} (${mb(fileBytes)} MB), precision ${precision}`);
  console.log(`| measure | value |`);
  console.log(`|---|---|`);
  console.log(`| first conversion (detect + 4 graphs + layout, into the cache) | ${(Number(conv.convertMs) / 1000).toFixed(1)} s |`);
  console.log(`| peak RSS during conversion | ${mb(Number(conv.peakRss))} MB (${(Number(conv.peakRss) / fp32Weights).toFixed(2)} × the cache entry) |`);
  console.log(`| cache entry on disk | ${mb(fp32Weights)} MB |`);
  console.log(`| cached load: lookup (stat + header hash) | ${Number(load.lookupMs).toFixed(1)} ms |`);
  console.log(`| cached load: lookup + U-Net session (what Load Checkpoint waits for) | ${(Number(load.cachedLoadMs) / 1000).toFixed(2)} s |`);
  console.log(`| cached load: all four sessions | ${(Number(load.allComponentsMs) / 1000).toFixed(2)} s |`);
  console.log(`| peak RSS of the cached load (all sessions) | ${mb(Number(load.peakRss))} MB |`);
  if (!cacheArg) rmSync(work, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
