// Formats pipeline benchmark results as a Markdown table and writes them into BENCHMARKS.md
// between markers, so the hand-written analysis around them survives re-runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Machine { cpus: number; cpuModel: string; ramGiB: number; node: string; platform: string }

export interface BenchResult {
  machine: Machine;
  date: string;
  steps: number;
  size: number;
  genMs: number;
  convertMs: number;
  a: { wallMs: number; ortMs: number; ratio: number; createMs: number; nodes: Record<string, number>; ortByComponent: Record<string, number> };
  b: { wallMs: number; sessionsCreated: number; textEncoderRuns: number; samplerMs: number; decodeMs: number; saveMs: number; ran: string[]; cached: string[] };
  c: { saveMedianMs: number; saveAllMs: number[] };
  d: {
    unetStepMs: number; unetStepWarmMs: number; unetCallsPerStep: number; jsPerStepMs: number; jsPerStepColdMs: number; previewsWarm: number; setupMs: number;
    previews: number; previewMs: number; jsPerStepNoPreviewMs: number; convertStepMs: number; convertStepFp16Ms: number;
  };
}

export function machineInfo(): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {
    // not Linux: os.cpus() already named it
  }
  return { cpus: os.availableParallelism(), cpuModel, ramGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}/${process.arch}` };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 0)} ms`;
const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

export function formatReport(r: BenchResult): string {
  const { a, b, c, d } = r;
  const stepJsShare = d.jsPerStepMs / d.unetStepWarmMs;
  const previewPerStep = (d.previewsWarm * d.previewMs) / r.steps;
  const rows: [string, string, string][] = [
    ['(a) whole workflow, cold (executor.execute)', ms(a.wallMs), ''],
    ['(a) inside ORT: session creation + run', `${ms(a.ortMs)} (create ${ms(a.createMs)})`, ''],
    ['(a) wall ÷ ORT', a.ratio.toFixed(3), `target ≤ 1.03: ${verdict(a.ratio <= 1.03)}`],
    ['(b) seed-only change: wall', ms(b.wallMs), `ran ${b.ran.join(',')}; cached ${b.cached.join(',')}`],
    ['(b) sessions created / text encoder runs', `${b.sessionsCreated} / ${b.textEncoderRuns}`, `must be 0 / 0: ${verdict(b.sessionsCreated === 0 && b.textEncoderRuns === 0)}`],
    ['(b) KSampler + VAEDecode + SaveImage', `${ms(b.samplerMs + b.decodeMs + b.saveMs)} (${ms(b.samplerMs)} + ${ms(b.decodeMs)} + ${ms(b.saveMs)})`, `rest of the run: ${ms(b.wallMs - b.samplerMs - b.decodeMs - b.saveMs)}`],
    [`(c) SaveImage alone, ${r.size}² (median of ${c.saveAllMs.length})`, ms(c.saveMedianMs), `all: ${c.saveAllMs.map((v) => v.toFixed(1)).join(', ')}`],
    ['(d) U-Net per step (ORT run), cold / warm run', `${ms(d.unetStepMs)} / ${ms(d.unetStepWarmMs)}`, `${d.unetCallsPerStep.toFixed(1)} call(s)/step (CFG batched)`],
    ['(d) JS per step (step loop − U-Net), warm run (b)', ms(d.jsPerStepMs), `${pct(stepJsShare)} of the U-Net step; target < 1 %: ${verdict(stepJsShare < 0.01)}`],
    ['(d) JS per step, cold run (a)', ms(d.jsPerStepColdMs), `${pct(d.jsPerStepColdMs / d.unetStepMs)}; includes first-call JIT of the sampler code`],
    ['(d) of which previews (averaged per step)', ms(previewPerStep), `${d.previewsWarm} previews × ${ms(d.previewMs)} (latent→RGB + PNG, timed alone)`],
    ['(d) JS per step with previews off (6-step run)', ms(d.jsPerStepNoPreviewMs), `${pct(d.jsPerStepNoPreviewMs / d.unetStepWarmMs)} of the U-Net step`],
    ['(d) of which IO conversion, fp32 IO', ms(d.convertStepMs), 'IoAdapter feeds + outputs per step'],
    ['(d) IO conversion, fp16 IO (same U-Net, fp16-io)', ms(d.convertStepFp16Ms), `${pct(d.convertStepFp16Ms / d.unetStepWarmMs)} of the U-Net step`],
    ['(d) KSampler setup before the first step', ms(d.setupMs), 'noise, sigmas, U-Net IO check'],
  ];
  const nodes = Object.entries(a.nodes).map(([k, v]) => `${k} ${ms(v)}`).join(' · ');
  const ortc = Object.entries(a.ortByComponent).map(([k, v]) => `${k} ${ms(v)}`).join(' · ');
  return [
    `Marble pipeline benchmark — ${r.date}`,
    `Machine: ${r.machine.cpus} CPUs, ${r.machine.cpuModel}, ${r.machine.ramGiB} GiB RAM, Node ${r.machine.node} (${r.machine.platform}); EP cpu`,
    `Workload: default workflow, MEDIUM generated SD1.x model (fp16 weights, fp32 IO), ${r.size}×${r.size} (latent ${r.size / 8}²), ${r.steps} steps euler/normal, CFG 8, previews on`,
    `(model generation ${ms(r.genMs)}, UI→API ${ms(r.convertMs)}; not part of any ratio)`,
    '',
    '| measure | value | note |',
    '|---|---|---|',
    ...rows.map(([k, v, n]) => `| ${k} | ${v} | ${n} |`),
    '',
    `Cold run per node: ${nodes}`,
    `ORT run time per component (cold run): ${ortc}`,
  ].join('\n');
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces the results block of BENCHMARKS.md (creating the file if needed), atomically. */
export function writeBenchmarksMd(file: string, r: BenchResult): void {
  const block = `${START}\n${formatReport(r)}\n${END}`;
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const i = old.indexOf(START);
  const j = old.indexOf(END);
  const text = i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + END.length) : `# Benchmarks\n\n${block}\n${old}`;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
