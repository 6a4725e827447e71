// Real generations inside VS Code: the inference child process runs the default workflow on the
// generated default model (runCodeServer.mjs creates it and passes MARBLE_MODELS), so these
// tests cover the whole path a user takes, with no stand-in generator.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { MarbleApi } from '../../../src/extension/extension';
import { readPngMetadata } from '../../../src/workflow/png';

const EXTENSION_ID = 'marble.marble-diffusion';

function workspaceRoot(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'no workspace folder');
  return folder.uri;
}

async function waitFor<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function pngsIn(folder: vscode.Uri): Promise<string[]> {
  try {
    return (await vscode.workspace.fs.readDirectory(folder)).filter(([n]) => n.endsWith('.png')).map(([n]) => n).sort();
  } catch {
    return [];
  }
}

describe('real generation (generated default model)', function () {
  this.timeout(120_000);

  before(async function () {
    if (!process.env.MARBLE_MODELS) this.skip();
    const ext = vscode.extensions.getExtension<MarbleApi>(EXTENSION_ID);
    assert.ok(ext);
    const marble = await ext.activate();
    marble._test.setImageGenerator(undefined);
  });

  afterEach(async () => {
    for (const d of vscode.workspace.textDocuments) if (d.isDirty && !d.isUntitled) await d.save();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Generate Image runs the default workflow, saves a ComfyUI PNG in the workspace and links it; undo removes the link', async () => {
    const root = workspaceRoot();
    const docUri = vscode.Uri.joinPath(root, 'real-notes.md');
    await vscode.workspace.fs.writeFile(docUri, Buffer.from('Intro\n', 'utf8'));
    const doc = await vscode.workspace.openTextDocument(docUri);
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(1, 0, 1, 0);

    const outcome = await vscode.commands.executeCommand<{ images: vscode.Uri[]; seed: number; inserted?: string }>(
      'marble.generateImage', { prompt: 'a lighthouse at dusk' },
    );
    assert.ok(outcome && outcome.images.length === 1, 'one image generated');
    const image = outcome.images[0]!;
    assert.ok(image.path.includes('/assets/generated/'), `saved under assets/generated: ${image.path}`);
    const bytes = await vscode.workspace.fs.readFile(image);
    const meta = readPngMetadata(bytes);
    const prompt = JSON.parse(meta.prompt!) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    const encoders = Object.values(prompt).filter((n) => n.class_type === 'CLIPTextEncode').map((n) => n.inputs.text);
    assert.ok(encoders.includes('a lighthouse at dusk'), 'the prompt chunk carries the typed prompt');
    const sampler = Object.values(prompt).find((n) => n.class_type === 'KSampler')!;
    assert.equal(String(sampler.inputs.seed), String(outcome.seed), 'the PNG records the seed actually used');
    assert.ok(JSON.parse(meta.workflow!).nodes.length >= 7, 'the workflow chunk carries the UI graph');

    const name = image.path.split('/').pop()!;
    assert.equal(outcome.inserted, `![a lighthouse at dusk](assets/generated/${name})`);
    assert.ok(doc.getText().includes(outcome.inserted!));
    await vscode.window.showTextDocument(doc);
    await vscode.commands.executeCommand('undo');
    await waitFor('undo of the insertion', () => doc.getText() === 'Intro\n', 10_000);
  });

  it('Run Workflow on an open .workflow.json produces its image in the output folder', async () => {
    const root = workspaceRoot();
    const out = vscode.Uri.joinPath(root, 'assets', 'generated');
    const before = await pngsIn(out);
    const uri = vscode.Uri.joinPath(root, 'default.workflow.json');
    await vscode.commands.executeCommand('vscode.openWith', uri, 'marble.workflowEditor');
    await vscode.commands.executeCommand('marble.runWorkflow', uri);
    const added = await waitFor('a new PNG from the run', async () => {
      const now = await pngsIn(out);
      const fresh = now.filter((n) => !before.includes(n));
      return fresh.length > 0 ? fresh : undefined;
    });
    const bytes = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(out, added[0]!));
    const meta = readPngMetadata(bytes);
    const prompt = JSON.parse(meta.prompt!) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    assert.equal(prompt['6']?.inputs.text, 'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,');
  });
});
