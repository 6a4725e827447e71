// The node catalogue as data: ComfyUI's core schemas (coreNodes.json, a transcription of
// /object_info) plus schemas Marble implements that the transcription lacks (extraNodes.json).
// Researcher annotations (`x_notes`) are dropped so what we serve is /object_info-shaped.
import type { ObjectInfo, ObjectInfoEntry } from '../objectInfo';
import coreNodes from './coreNodes.json';
import extraNodes from './extraNodes.json';

type RawCatalog = { nodes: Record<string, Record<string, unknown>> };

function normalise(raw: Record<string, unknown>, name: string): ObjectInfoEntry {
  const { x_notes: _notes, ...rest } = raw;
  const entry = structuredClone(rest) as unknown as ObjectInfoEntry;
  entry.name ??= name;
  entry.display_name ??= name;
  entry.description ??= '';
  entry.python_module ??= 'nodes';
  entry.category ??= '';
  entry.output_node ??= false;
  entry.output ??= [];
  entry.output_name ??= [...entry.output];
  entry.output_is_list ??= entry.output.map(() => false);
  entry.input ??= {};
  return entry;
}

function build(): ObjectInfo {
  const out: ObjectInfo = {};
  for (const src of [coreNodes as unknown as RawCatalog, extraNodes as unknown as RawCatalog]) {
    for (const [name, raw] of Object.entries(src.nodes)) out[name] = normalise(raw, name);
  }
  return out;
}

let cached: ObjectInfo | undefined;

/** All schemas Marble knows, keyed by class_type. A fresh deep copy, safe to extend. */
export function loadCoreCatalog(): ObjectInfo {
  cached ??= build();
  return structuredClone(cached);
}

/** One schema (shared, do not mutate), or undefined for classes outside the catalogue. */
export function getCoreSchema(name: string): ObjectInfoEntry | undefined {
  cached ??= build();
  return Object.prototype.hasOwnProperty.call(cached, name) ? cached[name] : undefined;
}

/** Node types the frontend draws but never sends to the backend (no schema, no execution). */
export const VIRTUAL_NODE_TYPES: ReadonlySet<string> = new Set(['Note', 'MarkdownNote', 'Reroute', 'PrimitiveNode']);
