// The parts of the "no model yet" offer that need no vscode, so they are unit-tested: which
// checkpoints object_info lists, where the demo model goes, running the bundled generator
// (dist/modelgen.js) as a child process, and finding the README's models heading.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { ObjectInfo } from '../workflow/objectInfo';

/** The checkpoint name ComfyUI's default workflow asks for; the demo model is created under it. */
export const DEMO_CHECKPOINT = 'v1-5-pruned-emaonly-fp16';

/** The README heading the "How to get a model" choice opens. */
export const MODELS_README_HEADING = '## Models: where they go';

/** Checkpoint names in CheckpointLoaderSimple's `ckpt_name` combo (empty when none is installed). */
export function checkpointsIn(info: ObjectInfo): string[] {
  const spec = info.CheckpointLoaderSimple?.input?.required?.ckpt_name;
  const list = Array.isArray(spec) ? spec[0] : undefined;
  return Array.isArray(list) ? list.map(String) : [];
}

/** The folder the demo model is written to under a models root. */
export function demoModelDir(modelsRoot: string): string {
  return path.join(modelsRoot, 'checkpoints', DEMO_CHECKPOINT);
}

export interface ModelGeneratorOptions {
  /** The Node binary: VS Code's own (with ELECTRON_RUN_AS_NODE=1) in the extension. */
  execPath: string;
  /** Arguments before `--default-models ROOT`: the script (and e.g. `--import tsx` in tests). */
  scriptArgs: string[];
  modelsRoot: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Each non-empty output line of the generator, for the log and the progress message. */
  onLine?: (line: string) => void;
  /** Aborting kills the generator; its half-written folder is a *.tmp-* that it never renames. */
  signal?: AbortSignal;
}

/**
 * Runs the model generator's `--default-models ROOT` in a child process (generation is
 * synchronous CPU work and must not block the extension host). Resolves with the model folder;
 * rejects with the generator's own error text.
 */
export function runModelGenerator(opts: ModelGeneratorOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new Error('Creating the demo model was cancelled'));
      return;
    }
    const child = spawn(opts.execPath, [...opts.scriptArgs, '--default-models', opts.modelsRoot], {
      cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const lines = (chunk: Buffer) => {
      for (const l of chunk.toString('utf8').split(/\r?\n/)) if (l.trim() !== '') opts.onLine?.(l.trim());
    };
    child.stdout.on('data', lines);
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-4000);
      lines(c);
    });
    const onAbort = () => child.kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`Cannot start the demo model generator (${opts.execPath}): ${e.message}`));
    });
    child.once('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.signal?.aborted) reject(new Error('Creating the demo model was cancelled'));
      else if (code === 0) resolve(demoModelDir(path.resolve(opts.modelsRoot)));
      else reject(new Error(`Creating the demo model failed (${sig ? `signal ${sig}` : `exit code ${code}`}): ${stderr.trim() || 'no output'}`));
    });
  });
}

/** The 0-based line of `heading` in a Markdown text, or 0 when it is not there. */
export function headingLine(markdown: string, heading: string): number {
  const i = markdown.split(/\r?\n/).findIndex((l) => l.trimEnd() === heading);
  return i < 0 ? 0 : i;
}
