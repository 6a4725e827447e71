// Input of the `marble_generateImage` language model tool: checked here (pure, no vscode) so a
// model's mistakes come back as one clear sentence it can act on, and so the target path can
// never leave the workspace folder.
import * as path from 'node:path';
import type { GenerationValues } from './workflowTemplate';

export interface ImageToolInput {
  prompt: string;
  negativePrompt?: string;
  width?: number;
  height?: number;
  seed?: number;
  /** A folder, or a .png file, relative to the workspace folder (or absolute inside it). */
  path?: string;
}

/** The JSON schema declared in package.json (`contributes.languageModelTools`). */
export const IMAGE_TOOL_SCHEMA = {
  type: 'object',
  properties: {
    prompt: { type: 'string', description: 'What the image shows.' },
    negativePrompt: { type: 'string', description: 'What the image must not show.' },
    width: { type: 'integer', minimum: 64, maximum: 2048, multipleOf: 8, description: 'Width in pixels (multiple of 8).' },
    height: { type: 'integer', minimum: 64, maximum: 2048, multipleOf: 8, description: 'Height in pixels (multiple of 8).' },
    seed: { type: 'integer', minimum: 0, description: 'Seed for a reproducible image; omitted = a new one.' },
    path: { type: 'string', description: 'Where to save: a folder, or a file ending in .png, relative to the workspace folder. Default: the marble.outputFolder setting.' },
  },
  required: ['prompt'],
} as const;

export class ToolInputError extends Error {}

function size(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 64 || v > 2048 || v % 8 !== 0) {
    throw new ToolInputError(`${name} must be an integer from 64 to 2048 and a multiple of 8, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function toGenerationValues(input: unknown): GenerationValues {
  if (!input || typeof input !== 'object') throw new ToolInputError('the input must be an object with at least a prompt');
  const i = input as Record<string, unknown>;
  if (typeof i.prompt !== 'string' || !i.prompt.trim()) throw new ToolInputError('prompt must be a non-empty string');
  if (i.negativePrompt !== undefined && typeof i.negativePrompt !== 'string') throw new ToolInputError('negativePrompt must be a string');
  if (i.seed !== undefined && (typeof i.seed !== 'number' || !Number.isSafeInteger(i.seed) || i.seed < 0)) {
    throw new ToolInputError(`seed must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(i.seed)}`);
  }
  return {
    prompt: i.prompt.trim(),
    ...(i.negativePrompt !== undefined ? { negative: i.negativePrompt } : {}),
    ...(i.width !== undefined ? { width: size('width', i.width) } : {}),
    ...(i.height !== undefined ? { height: size('height', i.height) } : {}),
    ...(i.seed !== undefined ? { seed: i.seed as number } : {}),
  };
}

/**
 * Where `raw` points inside `workspaceDir` (absolute fs paths): `{ folder }` or `{ folder, file }`
 * for a .png name. Refuses anything that resolves outside the workspace folder.
 */
export function resolveToolTarget(workspaceDir: string, raw: string): { folder: string; file?: string } {
  if (typeof raw !== 'string' || !raw.trim()) throw new ToolInputError('path must be a non-empty string');
  const root = path.resolve(workspaceDir);
  const abs = path.resolve(root, raw.trim());
  const rel = path.relative(root, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new ToolInputError(`path ${raw} is outside the workspace folder ${root}`);
  if (/\.png$/i.test(abs)) {
    const file = path.basename(abs);
    if (file.startsWith('.')) throw new ToolInputError(`path ${raw}: the file name must not start with a dot`);
    return { folder: path.dirname(abs), file };
  }
  if (path.extname(abs)) throw new ToolInputError(`path ${raw}: Marble saves PNG images; give a folder or a file ending in .png`);
  return { folder: abs };
}
