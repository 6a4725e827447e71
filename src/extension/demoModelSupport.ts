// The parts of the "no model yet" offer that need no vscode, so they are unit-tested: which
// checkpoints object_info lists, installing the bundled tiny shapes model (a real trained SD1.x
// checkpoint, resources/models/marble-shapes-tiny.safetensors) into a models folder, the values a
// generation falls back to with it, and finding the README's models heading.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DEMO_MODEL } from '../workflow/demoModel';
import type { ObjectInfo } from '../workflow/objectInfo';
import type { GenerationValues } from './workflowTemplate';

/** The checkpoint name the demo model is installed under (a .safetensors file, loaded like any other). */
export const DEMO_CHECKPOINT = DEMO_MODEL.checkpoint;

/** The README heading the "How to get a model" choice opens. */
export const MODELS_README_HEADING = '## Models: where they go';

/** Checkpoint names in CheckpointLoaderSimple's `ckpt_name` combo (empty when none is installed). */
export function checkpointsIn(info: ObjectInfo): string[] {
  const spec = info.CheckpointLoaderSimple?.input?.required?.ckpt_name;
  const list = Array.isArray(spec) ? spec[0] : undefined;
  return Array.isArray(list) ? list.map(String) : [];
}

/** The file the demo model is installed as under a models root. */
export function demoModelFile(modelsRoot: string): string {
  return path.join(modelsRoot, 'checkpoints', DEMO_CHECKPOINT);
}

/** Where the extension (or a checkout) ships the demo model. */
export function bundledDemoModel(extensionRoot: string): string {
  return path.join(extensionRoot, 'resources', 'models', DEMO_CHECKPOINT);
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Copies the bundled demo model into `<modelsRoot>/checkpoints/` (temp file + rename, so a
 * cancelled or failed copy never leaves a half checkpoint) and returns its path. An identical copy
 * already there is kept; a different file under that name is replaced, since the name belongs to
 * Marble. The checkpoint loader validates the file like any downloaded one when it is used.
 */
export function installDemoModel(extensionRoot: string, modelsRoot: string): { file: string; copied: boolean } {
  const src = bundledDemoModel(extensionRoot);
  let size: number;
  try {
    size = fs.statSync(src).size;
  } catch {
    throw new Error(`The bundled demo model is missing: ${src} (reinstall Marble, or in a checkout restore resources/models/)`);
  }
  if (size > DEMO_MODEL.maxBytes) {
    throw new Error(`The bundled demo model ${src} is ${size} bytes, over its ${DEMO_MODEL.maxBytes}-byte bound; it is not the file Marble ships`);
  }
  const dest = demoModelFile(modelsRoot);
  if (fs.existsSync(dest) && fs.statSync(dest).size === size && sha256(dest) === sha256(src)) return { file: dest, copied: false };
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    fs.copyFileSync(src, tmp);
    fs.renameSync(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`Cannot copy the demo model to ${dest}: ${e instanceof Error ? e.message : e}`);
  }
  return { file: dest, copied: true };
}

/**
 * Generation values for a run that falls back to the demo model: its training size and its
 * negative prompt, unless the caller chose them. Other checkpoints keep the workflow's values.
 */
export function demoModelValues(v: GenerationValues): GenerationValues {
  return {
    ...v,
    width: v.width ?? DEMO_MODEL.width,
    height: v.height ?? DEMO_MODEL.height,
    negative: v.negative ?? DEMO_MODEL.negative,
  };
}

/** The 0-based line of `heading` in a Markdown text, or 0 when it is not there. */
export function headingLine(markdown: string, heading: string): number {
  const i = markdown.split(/\r?\n/).findIndex((l) => l.trimEnd() === heading);
  return i < 0 ? 0 : i;
}
