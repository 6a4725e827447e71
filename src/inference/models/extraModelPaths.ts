// ComfyUI's extra_model_paths.yaml (utils/extra_config.py): named sections, each with an optional
// `base_path`, an optional `is_default`, and folder keys (`checkpoints`, `vae`, `loras`, `clip`,
// `unet`, …) whose values are one or more newline-separated paths (usually a `|` block).
// Parsed with a small YAML subset reader of our own (nested mappings, plain and quoted scalars,
// block scalars, comments), which covers the format ComfyUI documents and names the line of
// anything beyond it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canonicalFolder } from '../../workflow/modelNames';

export class ExtraModelPathsError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ExtraModelPathsError';
  }
}

type YamlValue = string | boolean | null | YamlMap;
interface YamlMap {
  [key: string]: YamlValue;
}

function stripComment(s: string): string {
  // A '#' starts a comment at the line start or after whitespace, outside quotes.
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) return s.slice(0, i);
  }
  return s;
}

function scalar(raw: string, no: number, fail: (no: number, msg: string) => never): string | boolean | null {
  const v = raw.trim();
  if (v === '' || v === '~' || v === 'null' || v === 'Null' || v === 'NULL') return null;
  if (/^(true|True|TRUE|yes|Yes|YES|on|On|ON)$/.test(v)) return true;
  if (/^(false|False|FALSE|no|No|NO|off|Off|OFF)$/.test(v)) return false;
  if (v.startsWith('"')) {
    if (!v.endsWith('"') || v.length < 2) fail(no, 'unterminated double-quoted string');
    try {
      return JSON.parse(v) as string;
    } catch {
      return fail(no, `cannot read the double-quoted string ${v}`);
    }
  }
  if (v.startsWith("'")) {
    if (!v.endsWith("'") || v.length < 2) fail(no, 'unterminated single-quoted string');
    return v.slice(1, -1).replaceAll("''", "'");
  }
  if (/^[[{&*!%@`]/.test(v)) fail(no, `'${v}' uses YAML syntax (flow collections, anchors, tags) that extra_model_paths.yaml does not need; write plain paths`);
  return v;
}

/** Parses the YAML subset used by extra_model_paths.yaml into nested maps of scalars. */
export function parseYamlSubset(text: string, file: string): YamlMap {
  const fail = (no: number, msg: string): never => {
    throw new ExtraModelPathsError(file, `line ${no}: ${msg}`);
  };
  const raw = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let i = 0;

  const readMap = (indent: number): YamlMap => {
    const out: YamlMap = {};
    while (i < raw.length) {
      const no = i + 1;
      const line = raw[i];
      if (/^\s*(#.*)?$/.test(line) || line.trim() === '---') {
        i++;
        continue;
      }
      if (/^\t/.test(line)) fail(no, 'tabs cannot indent YAML; use spaces');
      const lineIndent = line.length - line.trimStart().length;
      if (lineIndent < indent) return out;
      if (lineIndent > indent) fail(no, `unexpected indentation`);
      const content = stripComment(line).trimEnd();
      const m = /^(\s*)("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:#'"][^:]*?)\s*:(?:\s+(.*))?$/.exec(content);
      if (!m) {
        if (content.trimStart().startsWith('- ')) fail(no, 'lists are not part of this format; give several paths as lines of a | block');
        return fail(no, `expected 'key: value', got '${content.trim()}'`);
      }
      const key = String(scalar(m[2], no, fail));
      const rest = (m[3] ?? '').trim();
      i++;
      if (Object.hasOwn(out, key)) fail(no, `'${key}' is given twice`);
      if (/^[|>][+-]?$/.test(rest)) {
        out[key] = readBlock(lineIndent, rest);
      } else if (rest === '') {
        // Either a nested mapping or an empty value.
        let j = i;
        while (j < raw.length && /^\s*(#.*)?$/.test(raw[j])) j++;
        const nextIndent = j < raw.length ? raw[j].length - raw[j].trimStart().length : -1;
        if (nextIndent > lineIndent) {
          i = j;
          out[key] = readMap(nextIndent);
        } else out[key] = null;
      } else {
        out[key] = scalar(rest, no, fail);
      }
    }
    return out;
  };

  // A literal (|) or folded (>) block: lines indented past the key, indentation removed.
  const readBlock = (keyIndent: number, style: string): string => {
    const lines: string[] = [];
    let blockIndent: number | undefined;
    while (i < raw.length) {
      const line = raw[i];
      if (line.trim() === '') {
        lines.push('');
        i++;
        continue;
      }
      const ind = line.length - line.trimStart().length;
      if (ind <= keyIndent) break;
      blockIndent ??= ind;
      if (ind < blockIndent) break;
      lines.push(line.slice(blockIndent));
      i++;
    }
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    const body = style.startsWith('>') ? lines.join(' ') : lines.join('\n');
    return style.endsWith('-') ? body : `${body}\n`;
  };

  return readMap(0);
}

/** Search paths added by one file, per canonical folder name, in ComfyUI's order. */
export interface ExtraModelPaths {
  file: string;
  /** folders from sections with `is_default: true`: searched before the models roots */
  first: Record<string, string[]>;
  /** all other folders: searched after the models roots */
  last: Record<string, string[]>;
}

/** `~` and `$VAR`/`${VAR}` as Python's expanduser/expandvars (unknown variables stay as written). */
function expand(p: string): string {
  let s = p.replace(/\$(\w+)|\$\{(\w+)\}/g, (whole, a: string | undefined, b: string | undefined) => process.env[(a ?? b)!] ?? whole);
  if (s === '~' || s.startsWith('~/') || s.startsWith('~\\')) s = path.join(os.homedir(), s.slice(1));
  return s;
}

/** Reads extra_model_paths.yaml; relative paths resolve against the file's folder, as ComfyUI does. */
export function loadExtraModelPaths(file: string, text?: string): ExtraModelPaths {
  let source = text;
  if (source === undefined) {
    try {
      source = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ExtraModelPathsError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const doc = parseYamlSubset(source, file);
  const yamlDir = path.dirname(path.resolve(file));
  const result: ExtraModelPaths = { file, first: {}, last: {} };
  for (const [section, conf] of Object.entries(doc)) {
    if (conf === null) continue;
    if (typeof conf !== 'object') throw new ExtraModelPathsError(file, `section '${section}' should hold 'folder: path' lines, got ${JSON.stringify(conf)}`);
    let base: string | undefined;
    if (conf.base_path !== undefined && conf.base_path !== null) {
      if (typeof conf.base_path !== 'string') throw new ExtraModelPathsError(file, `${section}.base_path should be a path`);
      base = expand(conf.base_path);
      if (!path.isAbsolute(base)) base = path.resolve(yamlDir, base);
    }
    const isDefault = conf.is_default === true;
    const target = isDefault ? result.first : result.last;
    for (const [folder, value] of Object.entries(conf)) {
      if (folder === 'base_path' || folder === 'is_default' || value === null) continue;
      if (typeof value !== 'string') throw new ExtraModelPathsError(file, `${section}.${folder} should be one or more paths, got ${typeof value === 'object' ? 'a mapping' : JSON.stringify(value)}`);
      const name = canonicalFolder(folder);
      for (const line of value.split('\n')) {
        const entry = line.trim();
        if (entry === '') continue;
        const full = base !== undefined ? path.join(base, expand(entry)) : path.resolve(yamlDir, expand(entry));
        const list = (target[name] ??= []);
        const normal = path.normalize(full);
        if (!list.includes(normal)) list.push(normal);
      }
    }
  }
  return result;
}

/** ComfyUI reads extra_model_paths.yaml from its base folder, the parent of `models/`. */
export const EXTRA_MODEL_PATHS_FILE = 'extra_model_paths.yaml';

const discovered = new Map<string, { mtimeMs: number; size: number; value: ExtraModelPaths | ExtraModelPathsError }>();

/**
 * The extra_model_paths.yaml of each models root's ComfyUI folder (`<root>/../extra_model_paths.yaml`),
 * where the user has one, re-read when it changes. A file that cannot be parsed is returned as
 * its error, so resolution can report it and listings can go on without it.
 */
export function discoverExtraModelPaths(roots: readonly string[]): Array<ExtraModelPaths | ExtraModelPathsError> {
  const out: Array<ExtraModelPaths | ExtraModelPathsError> = [];
  const seen = new Set<string>();
  for (const root of roots) {
    const file = path.join(path.dirname(path.resolve(root)), EXTRA_MODEL_PATHS_FILE);
    if (seen.has(file)) continue;
    seen.add(file);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      discovered.delete(file);
      continue;
    }
    if (!stat.isFile()) continue;
    const cached = discovered.get(file);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) {
      out.push(cached.value);
      continue;
    }
    let value: ExtraModelPaths | ExtraModelPathsError;
    try {
      value = loadExtraModelPaths(file);
    } catch (e) {
      value = e instanceof ExtraModelPathsError ? e : new ExtraModelPathsError(file, (e as Error).message);
    }
    discovered.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, value });
    out.push(value);
  }
  return out;
}
