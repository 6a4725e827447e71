// Shared test data: paths to the shared ComfyUI data and small builders for UI graphs.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { UiLink, UiNode, UiWorkflow } from '../../../src/workflow/types';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
/** Test data copied into the repository (provenance in each folder's README). */
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
export const COMFY_DATA = path.join(FIXTURES, 'comfyui');
export const EXAMPLES = ['img2img_workflow', 'inpaint_example', 'lora', 'sdxl_simple_example', 'sdxlturbo_example'];

export function examplePng(name: string): Uint8Array {
  return readFileSync(path.join(COMFY_DATA, 'examples', `${name}.png`));
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

export function defaultGraphJson(): unknown {
  return readJson(path.join(COMFY_DATA, 'default_graph.json'));
}

export function fixture(name: string): unknown {
  return readJson(path.join(REPO_ROOT, 'test/fixtures/workflow', name));
}

/** A node with the fields every UI node has; override what the test is about. */
export function uiNode(id: number, type: string, extra: Partial<UiNode> = {}): UiNode {
  return { id, type, pos: [0, 0], size: [200, 100], flags: {}, order: id, mode: 0, properties: {}, ...extra };
}

export function workflow(nodes: UiNode[], links: UiLink[]): UiWorkflow {
  return { last_node_id: Math.max(0, ...nodes.map((n) => Number(n.id))), last_link_id: links.length, nodes, links, version: 0.4 };
}
