// `marble run <workflow.json|api.json|image.png>`: runs one workflow in the inference child and
// prints where the images went. Progress goes to stderr (a bar on a TTY); with --json every
// backend event is a JSON line on stdout, ending with a `marble_result` line.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { BackendClient, BackendRequestError } from '../../inference/client/backendClient';
import { defaultCacheRoot } from '../../inference/checkpoint/conversionCache';
import { defaultRuntimeConfig } from '../../inference/nodes/runtimeConfig';
import type { BackendEvent, PromptRejection } from '../../protocol/inference';
import type { ApiPrompt, UiWorkflow } from '../../workflow/types';
import { uiToApi } from '../../workflow/uiToApi';
import { CliError, loadInput, processIO, type CliIO } from '../io';

const USAGE = `Usage: marble run <workflow.json | api.json | image.png> [options]

Runs a ComfyUI workflow (UI or API format, or the one embedded in a ComfyUI PNG) locally.

Options:
  --models <dir>       a models folder (checkpoints/, vae/, …); repeat for several (default ./models)
  --output <dir>       where SaveImage writes (default ./output)
  --input <dir>        where LoadImage reads (default ./input)
  --cache <dir>        where .safetensors models converted to ONNX are kept
                       (default $MARBLE_CACHE or ~/.cache/marble/onnx; see marble cache)
  --set <id.input=v>   override an input of the API prompt, e.g. --set 3.seed=42 (v is JSON or text)
  --ep <name>          execution provider: auto, cpu, cuda, webgpu, … (default auto)
  --json               JSON-lines events on stdout instead of a progress bar
  -h, --help           show this help

Exit codes: 0 done, 1 execution error, 2 bad arguments or file, 3 validation error, 130 interrupted.`;

export interface RunArgs {
  file: string;
  models: string[];
  output?: string;
  input?: string;
  cache?: string;
  sets: string[];
  ep: string;
  json: boolean;
}

export function parseRunArgs(argv: string[]): RunArgs | 'help' {
  const args: RunArgs = { file: '', models: [], sets: [], ep: 'auto', json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new CliError(`${a} needs a value`);
      return v;
    };
    if (a === '-h' || a === '--help') return 'help';
    else if (a === '--models') args.models.push(value());
    else if (a === '--output') args.output = value();
    else if (a === '--input') args.input = value();
    else if (a === '--cache') args.cache = value();
    else if (a === '--set') args.sets.push(value());
    else if (a === '--ep') args.ep = value();
    else if (a === '--json') args.json = true;
    else if (a.startsWith('-')) throw new CliError(`unknown option ${a}`);
    else if (args.file) throw new CliError(`only one workflow file can be run, got '${args.file}' and '${a}'`);
    else args.file = a;
  }
  if (!args.file) throw new CliError('missing the workflow file');
  return args;
}

/** Applies `id.input=value` overrides; value parses as JSON when it can (42, true, "x", [..]). */
export function applySets(prompt: ApiPrompt, sets: string[]): void {
  for (const s of sets) {
    const m = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(s);
    if (!m) throw new CliError(`--set ${s}: expected <node id>.<input>=<value>, e.g. 3.seed=42`);
    const [, id, input, raw] = m;
    const node = prompt[id];
    if (!node) throw new CliError(`--set ${s}: the prompt has no node '${id}' (nodes: ${Object.keys(prompt).join(', ')})`);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // plain text, e.g. --set 6.text=a cat
    }
    node.inputs[input] = value as ApiPrompt[string]['inputs'][string];
  }
}

function inferenceEntry(): string {
  const candidates = [process.env.MARBLE_INFERENCE_ENTRY, path.join(__dirname, 'inference.js'), path.resolve(__dirname, '../../../dist/inference.js')];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new CliError(`cannot find dist/inference.js (run npm run build, or set MARBLE_INFERENCE_ENTRY)`);
  return found;
}

function describeRejection(r: PromptRejection | undefined, fallback: string): string {
  if (!r) return fallback;
  const lines = [`${r.error.message}${r.error.details ? `: ${r.error.details}` : ''}`];
  for (const [id, ne] of Object.entries(r.node_errors)) {
    for (const e of ne.errors) lines.push(`  node ${id} (${ne.class_type}): ${e.message}${e.details ? ` — ${e.details}` : ''}`);
  }
  return lines.join('\n');
}

export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  let args: RunArgs;
  try {
    const parsed = parseRunArgs(argv);
    if (parsed === 'help') {
      io.out(USAGE + '\n');
      return 0;
    }
    args = parsed;
  } catch (e) {
    io.err(`marble run: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const started = Date.now();
  const cfg = defaultRuntimeConfig(process.cwd());
  const config = {
    ...cfg,
    modelsRoots: args.models.length ? args.models.map((m) => path.resolve(m)) : cfg.modelsRoots,
    outputDir: args.output ? path.resolve(args.output) : cfg.outputDir,
    inputDir: args.input ? path.resolve(args.input) : cfg.inputDir,
    conversionCacheDir: args.cache ? path.resolve(args.cache) : defaultCacheRoot(),
    ep: args.ep,
    previews: false,
  };
  const fail = (code: number, message: string) => {
    if (args.json) io.out(JSON.stringify({ type: 'marble_result', data: { status: 'error', exit_code: code, message } }) + '\n');
    io.err(`marble run: ${message}\n`);
    return code;
  };
  let client: BackendClient | undefined;
  try {
    const loaded = await loadInput(args.file);
    client = new BackendClient({ entry: inferenceEntry() });
    client.on('stderr', (chunk) => { if (!args.json) io.err(chunk); });
    await client.start();
    // The child checks the settings (an unknown --ep); that is a usage error, not a failed run.
    await client.configure(config).catch((e: unknown) => {
      throw e instanceof BackendRequestError ? new CliError(e.message) : e;
    });
    let prompt = loaded.api;
    // A UI workflow wins over an embedded API prompt (as ComfyUI's frontend loads PNGs).
    if (loaded.ui) {
      const converted = uiToApi(loaded.ui, await client.objectInfo());
      for (const w of converted.warnings) io.err(`warning: ${w}\n`);
      prompt = converted.prompt;
    }
    if (!prompt) throw new CliError(`${args.file} has nothing to run`);
    applySets(prompt, args.sets);
    return await execute({ client, prompt, workflow: loaded.ui, args, config, started, io, fail });
  } catch (e) {
    if (e instanceof CliError) return fail(2, e.message);
    if (e instanceof BackendRequestError && e.rejection) return fail(3, describeRejection(e.rejection, e.message));
    return fail(1, (e as Error)?.message ?? String(e));
  } finally {
    await client?.shutdown().catch(() => client?.dispose());
  }
}

interface ExecuteContext {
  client: BackendClient;
  prompt: ApiPrompt;
  workflow: UiWorkflow | undefined;
  args: RunArgs;
  config: { outputDir: string; tempDir: string; ep: string };
  started: number;
  io: CliIO;
  fail(code: number, message: string): number;
}

interface SavedRef { filename: string; subfolder: string; type: string }

async function execute({ client, prompt, workflow, args, config, started, io, fail }: ExecuteContext): Promise<number> {
  const images: string[] = [];
  const eps = new Map<string, string>();
  const tty = !args.json && io === processIO && process.stderr.isTTY;
  let promptId: string | undefined;
  const early: BackendEvent[] = [];
  let currentNode = '';
  let finish: (r: { code: number; message?: string }) => void = () => undefined;
  const done = new Promise<{ code: number; message?: string }>((resolve) => { finish = resolve; });
  let outcome: { code: number; message?: string } | undefined;
  const settle = (r: { code: number; message?: string }) => {
    outcome = r;
    setTimeout(() => finish(r), 1000).unref(); // in case the trailing `executing` never comes
  };

  const onEvent = (ev: BackendEvent): void => {
    // Events can only be matched to this run once queue() has answered with the prompt id.
    if (!promptId) { early.push(ev); return; }
    const pid = (ev.data as { prompt_id?: string }).prompt_id;
    if (pid !== undefined && pid !== promptId) return;
    if (args.json) io.out(JSON.stringify(ev) + '\n');
    switch (ev.type) {
      case 'ep': eps.set(ev.data.model, ev.data.provider); break;
      case 'log': if (!args.json) io.err(`[${ev.data.level}] ${ev.data.message}\n`); break;
      case 'executing':
        if (ev.data.node !== null) {
          currentNode = `${ev.data.node} ${prompt[ev.data.node]?.class_type ?? ''}`.trim();
          if (!args.json) io.err(tty ? `\r\x1b[K${currentNode}` : `running ${currentNode}\n`);
        }
        break;
      case 'progress':
        if (tty) {
          const width = 30, filled = Math.round((ev.data.value / ev.data.max) * width);
          io.err(`\r\x1b[K${currentNode} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${ev.data.value}/${ev.data.max}`);
        }
        break;
      case 'executed':
        for (const im of ((ev.data.output as { images?: SavedRef[] }).images ?? [])) {
          images.push(path.join(im.type === 'temp' ? config.tempDir : config.outputDir, im.subfolder, im.filename));
        }
        break;
      case 'execution_success': settle({ code: 0 }); break;
      case 'execution_error':
        settle({ code: 1, message: `node ${ev.data.node_id} (${ev.data.node_type}) failed: ${ev.data.exception_message}` });
        break;
      case 'execution_interrupted':
        settle({ code: 130, message: `interrupted at node ${ev.data.node_id} (${ev.data.node_type})` });
        break;
    }
    // ComfyUI's last word for a prompt is `executing {node: null}`, right after the outcome.
    if (ev.type === 'executing' && ev.data.node === null && outcome) finish(outcome);
  };
  client.on('event', onEvent);
  client.once('crashed', (c) => finish({ code: 1, message: `the inference process crashed (${c.signal ?? `code ${c.code}`})\n${c.stderrTail}` }));

  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) { client.dispose(); return; }
    io.err('\ninterrupting… (Ctrl-C again to kill)\n');
    void client.interrupt(promptId).catch(() => undefined);
  };
  process.on('SIGINT', onSigint);
  try {
    const extraData = workflow ? { extra_pnginfo: { workflow } } : {};
    const queued = await client.queue({ prompt, extraData });
    promptId = queued.prompt_id;
    for (const ev of early.splice(0)) onEvent(ev);
    for (const [id, ne] of Object.entries(queued.node_errors)) {
      io.err(`warning: output node ${id} (${ne.class_type}) skipped: ${ne.errors.map((e) => e.message).join('; ')}\n`);
    }
    const result = await done;
    if (tty) io.err('\r\x1b[K');
    const wall = Number(((Date.now() - started) / 1000).toFixed(1));
    const ep = eps.size ? [...new Set(eps.values())].join(', ') : config.ep;
    if (args.json) {
      io.out(JSON.stringify({ type: 'marble_result', data: {
        status: result.code === 0 ? 'success' : result.code === 130 ? 'interrupted' : 'error', exit_code: result.code,
        prompt_id: promptId, images, eps: Object.fromEntries(eps), wall_s: wall, message: result.message,
      } }) + '\n');
    } else {
      for (const im of images) io.out(im + '\n');
      io.err(`EP: ${ep} · ${wall} s\n`);
    }
    if (result.code !== 0) io.err(`marble run: ${result.message}\n`);
    return result.code;
  } catch (e) {
    if (e instanceof BackendRequestError && e.rejection) return fail(3, describeRejection(e.rejection, e.message));
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    client.off('event', onEvent);
  }
}
