// CLI plumbing shared by subcommands: output sinks (swappable in tests), input loading for
// UI JSON / API JSON / PNG with metadata, and atomic writes. Errors thrown here are CliError
// with a message a person can act on; main.ts turns them into exit code 2.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseWorkflowJson, type ParsedWorkflow } from '../workflow/parse';
import { isPng, readPngMetadata } from '../workflow/png';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** An expected failure: printed without a stack trace; `exitCode` 2 = usage or input problem. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const MAX_INPUT_BYTES = 256 * 1024 * 1024;

export interface LoadedInput {
  file: string;
  source: 'json' | 'png';
  /** Parsed `workflow` (UI) data, when the input has it. */
  ui?: Extract<ParsedWorkflow, { format: 'ui' }>['workflow'];
  /** Parsed API prompt, when the input has it. */
  api?: Extract<ParsedWorkflow, { format: 'api' }>['prompt'];
}

function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const hint = text.trim() === '' ? ' (the file is empty)' : '';
    throw new CliError(`${what} is not valid JSON: ${msg}${hint}`);
  }
}

function parseOrExplain(value: unknown, what: string): ParsedWorkflow {
  try {
    return parseWorkflowJson(value);
  } catch (e) {
    throw new CliError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Reads a workflow from JSON (either format) or from a PNG's `workflow`/`prompt` text chunks. */
export async function loadInput(file: string): Promise<LoadedInput> {
  let bytes: Uint8Array;
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) throw new CliError(`${file} is a directory; give a .json or .png file`);
    if (stat.size > MAX_INPUT_BYTES) throw new CliError(`${file} is ${stat.size} bytes; workflows larger than ${MAX_INPUT_BYTES} bytes are not accepted`);
    bytes = await fs.readFile(file);
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`cannot read ${file}: no such file`);
    if (code === 'EACCES') throw new CliError(`cannot read ${file}: permission denied`);
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (isPng(bytes)) {
    let meta;
    try {
      meta = readPngMetadata(bytes);
    } catch (e) {
      throw new CliError(`${file}: ${(e as Error).message}`);
    }
    const loaded: LoadedInput = { file, source: 'png' };
    if (meta.workflow !== undefined) {
      const p = parseOrExplain(parseJsonText(meta.workflow, `${file} (workflow chunk)`), `${file} (workflow chunk)`);
      if (p.format === 'ui') loaded.ui = p.workflow;
      else loaded.api = p.prompt;
    }
    if (meta.prompt !== undefined) {
      const p = parseOrExplain(parseJsonText(meta.prompt, `${file} (prompt chunk)`), `${file} (prompt chunk)`);
      if (p.format === 'api') loaded.api ??= p.prompt;
      else loaded.ui ??= p.workflow;
    }
    if (!loaded.ui && !loaded.api) {
      const keys = Object.keys(meta.texts);
      throw new CliError(`${file} has no ComfyUI workflow or prompt metadata${keys.length ? ` (text keys found: ${keys.join(', ')})` : ''}`);
    }
    return loaded;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = '';
  }
  // Binary junk would otherwise be echoed into the terminal inside JSON.parse's message.
  if ((text === '' && bytes.length > 0) || /[\0-\x08\x0e-\x1f]/.test(text.slice(0, 4096))) {
    const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new CliError(`${file} is not valid JSON: it holds binary data (first bytes ${head}), not a workflow or a PNG`);
  }
  const parsed = parseOrExplain(parseJsonText(text, file), file);
  return parsed.format === 'ui' ? { file, source: 'json', ui: parsed.workflow } : { file, source: 'json', api: parsed.prompt };
}

/** Writes via a temp file in the same directory and a rename, so readers never see half a file. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`);
  }
}
