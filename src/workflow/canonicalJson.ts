// A canonical text form for UI workflows so version control diffs show meaning: fixed key order,
// nodes and links sorted by id, 2-space indent, and arrays of scalars (pos, size, link tuples,
// widgets_values) on one line. Writing is idempotent and JSON.parse gives back the same data
// (with nodes and links in id order).
import type { UiWorkflow } from './types';

const TOP_ORDER = ['id', 'revision', 'last_node_id', 'last_link_id', 'nodes', 'links', 'groups', 'config', 'extra', 'version', 'models'];
const NODE_ORDER = ['id', 'type', 'pos', 'size', 'flags', 'order', 'mode', 'inputs', 'outputs', 'title', 'properties', 'widgets_values', 'color', 'bgcolor'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function orderKeys(o: Record<string, unknown>, first: string[]): string[] {
  const head = first.filter((k) => k in o && o[k] !== undefined);
  const rest = Object.keys(o)
    .filter((k) => !first.includes(k) && o[k] !== undefined)
    .sort();
  return [...head, ...rest];
}

function compareIds(a: unknown, b: unknown): number {
  const na = typeof a === 'number';
  const nb = typeof b === 'number';
  if (na && nb) return (a as number) - (b as number);
  if (na !== nb) return na ? -1 : 1;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function linkId(l: unknown): unknown {
  if (Array.isArray(l)) return l[0];
  return (l as { id?: unknown })?.id;
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function scalar(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) throw new Error(`cannot write ${typeof v} as JSON`);
  return s;
}

function write(value: unknown, indent: string, keyOrder?: (o: Record<string, unknown>) => string[]): string {
  if (isScalar(value)) return scalar(value);
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => (v === undefined ? null : v));
    if (items.every(isScalar)) return `[${items.map(scalar).join(', ')}]`;
    return `[\n${items.map((v) => inner + write(v, inner)).join(',\n')}\n${indent}]`;
  }
  const o = value as Record<string, unknown>;
  if (typeof (o as { toJSON?: unknown }).toJSON === 'function') return write((o as { toJSON: () => unknown }).toJSON(), indent);
  const keys = keyOrder ? keyOrder(o) : Object.keys(o).filter((k) => o[k] !== undefined);
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${write(o[k], inner)}`).join(',\n')}\n${indent}}`;
}

/** The canonical text of a UI workflow (ends with a newline). */
export function writeCanonicalWorkflow(workflow: UiWorkflow | Record<string, unknown>): string {
  const wf = workflow as Record<string, unknown>;
  const keys = orderKeys(wf, TOP_ORDER);
  const inner = '  ';
  const parts = keys.map((k) => {
    const v = wf[k];
    let text: string;
    if (k === 'nodes' && Array.isArray(v)) {
      const nodes = [...v].sort((a, b) => compareIds(a?.id, b?.id));
      text = nodes.length === 0 ? '[]' : `[\n${nodes.map((n) => `${inner}  ${write(n, inner + '  ', (o) => orderKeys(o, NODE_ORDER))}`).join(',\n')}\n${inner}]`;
    } else if (k === 'links' && Array.isArray(v)) {
      text = write([...v].sort((a, b) => compareIds(linkId(a), linkId(b))), inner);
    } else {
      text = write(v, inner);
    }
    return `${inner}${JSON.stringify(k)}: ${text}`;
  });
  return `{\n${parts.join(',\n')}\n}\n`;
}

/** Canonical text for any JSON value (API prompts, settings): same layout rules, key order kept. */
export function writeCanonicalJson(value: unknown): string {
  return write(value as Json, '') + '\n';
}
