// Where a node (and one of its inputs) sits in a workflow's JSON text, so validation errors can
// be shown on the right line of the `.workflow.json` (VS Code diagnostics, git diff views). Works
// on any formatting, not only Marble's canonical one. Pure: no vscode.
// The ESM build: the package's UMD `main` requires its parts at run time, which a bundle lacks.
import { findNodeAtLocation, parseTree, type Node as JsonNode } from 'jsonc-parser/lib/esm/main.js';
import type { ObjectInfoEntry } from './objectInfo';
import { widgetNamesFor } from './catalog/widgets';

/** A character range [start, end) in the text. */
export interface TextSpan { start: number; end: number }

export interface NodeLocator {
  /** The node's `"id": …` property, or undefined when no node has that id. */
  node(id: string): TextSpan | undefined;
  /**
   * The input's entry: its `inputs[]` object when it has one, else its `widgets_values` element
   * (by the schema's widget order), else the node's id line.
   */
  input(id: string, input: string, schema?: ObjectInfoEntry): TextSpan | undefined;
}

const span = (n: JsonNode): TextSpan => ({ start: n.offset, end: n.offset + n.length });

/** Indexes the nodes of a UI workflow text; a text that is not one yields a locator that finds nothing. */
export function locateNodes(text: string): NodeLocator {
  const root = parseTree(text);
  const byId = new Map<string, JsonNode>();
  const nodes = root ? findNodeAtLocation(root, ['nodes']) : undefined;
  for (const n of nodes?.type === 'array' ? nodes.children ?? [] : []) {
    const idProp = n.type === 'object' ? n.children?.find((p) => p.children?.[0]?.value === 'id') : undefined;
    const v = idProp?.children?.[1]?.value;
    if (idProp && (typeof v === 'number' || typeof v === 'string') && !byId.has(String(v))) byId.set(String(v), n);
  }
  const idSpan = (n: JsonNode) => {
    const p = n.children?.find((c) => c.children?.[0]?.value === 'id');
    return p ? span(p) : span(n);
  };
  return {
    node(id) {
      const n = byId.get(id);
      return n ? idSpan(n) : undefined;
    },
    input(id, input, schema) {
      const n = byId.get(id);
      if (!n) return undefined;
      const inputs = findNodeAtLocation(n, ['inputs']);
      const entry = inputs?.children?.find((i) => findNodeAtLocation(i, ['name'])?.value === input);
      if (entry) return span(entry);
      const values = findNodeAtLocation(n, ['widgets_values']);
      if (schema && values?.type === 'array') {
        const index = widgetNamesFor(schema).indexOf(input);
        const el = index >= 0 ? values.children?.[index] : undefined;
        if (el) return span(el);
      }
      return idSpan(n);
    },
  };
}
