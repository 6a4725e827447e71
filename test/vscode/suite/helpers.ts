// Helpers shared by the VS Code-tier test files. Bundled into dist/test/vscode-suite.js through
// the test files that import it; it holds no tests, so tests.ts does not list it.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { MarbleApi } from '../../../src/extension/extension';
import type { ImageGenerator } from '../../../src/extension/generation';
import type { GenerationValues } from '../../../src/extension/workflowTemplate';
import type { HostToPanel } from '../../../src/protocol/webview';
import { readPngMetadata } from '../../../src/workflow/png';

export const EXTENSION_ID = 'marble.marble-diffusion';
export const VIEW_TYPE = 'marble.workflowEditor';

/** The API prompt a PNG carries (ComfyUI's `prompt` chunk). */
export type ApiPrompt = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

export interface WfNode {
  id: number; type: string; widgets_values?: unknown[];
  inputs?: { name: string; type: string; link: number | null }[];
  outputs?: { name: string; type: string; links: number[] | null }[];
  [k: string]: unknown;
}
/** A UI workflow (.workflow.json / the PNG's `workflow` chunk), as much of it as the tests touch. */
export interface Wf { nodes: WfNode[]; links: unknown[][]; last_link_id: number; last_node_id: number; [k: string]: unknown }

export async function api(): Promise<MarbleApi> {
  const ext = vscode.extensions.getExtension<MarbleApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not loaded`);
  return ext.activate();
}

/** The API with the real image generator: an earlier test file may have left a fake one in place. */
export async function apiWithRealGenerator(): Promise<MarbleApi> {
  const marble = await api();
  marble._test.setImageGenerator(undefined);
  return marble;
}

export function workspaceRoot(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'no workspace folder');
  return folder.uri;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it returns something other than undefined/false; fails naming `what`. */
export async function waitFor<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Saves dirty test documents first: closing a dirty editor would wait on a "Save?" dialog. */
export async function closeAll(): Promise<void> {
  for (const d of vscode.workspace.textDocuments) if (d.isDirty && !d.isUntitled) await d.save();
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Opens `uri` in the graph editor and waits for its page's ready → init handshake. */
export async function openInGraphEditor(marble: MarbleApi, uri: vscode.Uri, what = 'the graph page to complete its handshake'): Promise<vscode.TextDocument> {
  await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
  await waitFor(what, () => marble._test.editorCount(uri, true) > 0, 45_000);
  return vscode.workspace.openTextDocument(uri);
}

/** Shows the Marble view and waits for the Generate page's handshake. */
export async function showGenerateView(marble: MarbleApi, what = 'the Generate view handshake', timeoutMs = 30_000): Promise<void> {
  await vscode.commands.executeCommand('workbench.view.extension.marble');
  await waitFor(what, () => marble._test.panelReady(), timeoutMs);
}

export interface PanelTap {
  /** Every message the host posted to the Generate page since the tap, in order. */
  readonly posted: HostToPanel[];
  first<K extends HostToPanel['type']>(type: K): Extract<HostToPanel, { type: K }> | undefined;
  dispose(): void;
}

export function tapPanel(marble: MarbleApi): PanelTap {
  const posted: HostToPanel[] = [];
  const sub = marble._test.tapPanel((m) => posted.push(m));
  return {
    posted,
    first: <K extends HostToPanel['type']>(type: K) => posted.find((m): m is Extract<HostToPanel, { type: K }> => m.type === type),
    dispose: () => sub.dispose(),
  };
}

/** Counts content changes of one document. */
export function countChanges(uri: vscode.Uri): { readonly count: number; dispose(): void } {
  let count = 0;
  const sub = vscode.workspace.onDidChangeTextDocument((e) => {
    if (e.document.uri.toString() === uri.toString() && e.contentChanges.length > 0) count++;
  });
  return { get count() { return count; }, dispose: () => sub.dispose() };
}

export async function readWorkspaceJson<T = Wf>(name: string): Promise<T> {
  return JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(workspaceRoot(), name))).toString('utf8')) as T;
}

export async function writeWorkspaceJson(name: string, value: unknown): Promise<vscode.Uri> {
  const uri = vscode.Uri.joinPath(workspaceRoot(), name);
  await vscode.workspace.fs.writeFile(uri, Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8'));
  return uri;
}

/** Writes `text` to a workspace file, opens it in a text editor and places the selection. */
export async function editTextFile(pathSegments: string[], text: string, selection: vscode.Selection): Promise<vscode.TextDocument> {
  const uri = vscode.Uri.joinPath(workspaceRoot(), ...pathSegments);
  await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
  const doc = await vscode.workspace.openTextDocument(uri);
  const editor = await vscode.window.showTextDocument(doc);
  editor.selection = selection;
  return doc;
}

/** Undo in `doc`'s editor, then waits until its text is `expected`. */
export async function undoUntil(doc: vscode.TextDocument, what: string, expected: string, timeoutMs = 10_000): Promise<void> {
  await vscode.window.showTextDocument(doc);
  await vscode.commands.executeCommand('undo');
  await waitFor(what, () => doc.getText() === expected, timeoutMs);
}

/** A stand-in generator that "stages" one file with `bytes`; `check` sees the values it was given. */
export function stagedImageGenerator(name: string, bytes: Uint8Array, seed: number, check?: (values: GenerationValues) => void): ImageGenerator {
  return {
    async generate(values) {
      const staged = vscode.Uri.joinPath(workspaceRoot(), '.staging', name);
      await vscode.workspace.fs.writeFile(staged, bytes);
      check?.(values);
      return { files: [staged], seed };
    },
  };
}

/** Where the test workspace's generations land. */
export const outputDir = () => vscode.Uri.joinPath(workspaceRoot(), 'assets', 'generated');

export async function pngsIn(folder: vscode.Uri): Promise<string[]> {
  try {
    return (await vscode.workspace.fs.readDirectory(folder)).filter(([n]) => n.endsWith('.png')).map(([n]) => n).sort();
  } catch {
    return [];
  }
}

/** Waits for a PNG in `folder` that was not in `before` and returns its name. */
export function newPngIn(folder: vscode.Uri, before: string[], what: string, timeoutMs: number): Promise<string> {
  return waitFor(what, async () => (await pngsIn(folder)).find((n) => !before.includes(n)), timeoutMs);
}

/** The API prompt embedded in a generated PNG. */
export async function readPngPrompt(uri: vscode.Uri): Promise<ApiPrompt> {
  return JSON.parse(readPngMetadata(await vscode.workspace.fs.readFile(uri)).prompt!) as ApiPrompt;
}
