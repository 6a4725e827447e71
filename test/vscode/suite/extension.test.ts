// Extension-host tests of Marble's VS Code surface: activation, commands, the custom editor and
// its edit path with undo, and inserting a generated image's reference into a Markdown file (the
// backend step replaced by a fake PNG; the real generation tests come with the models).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ConversionCache } from '../../../src/inference/checkpoint/conversionCache';
import type { MarbleApi } from '../../../src/extension/extension';
import { api, closeAll, editTextFile, EXTENSION_ID, stagedImageGenerator, undoUntil, VIEW_TYPE, waitFor, workspaceRoot } from './helpers';

const EXPECTED_COMMANDS = [
  'marble.generateImage', 'marble.generateImageHere', 'marble.generateFromSelection', 'marble.newWorkflow',
  'marble.runWorkflow', 'marble.interrupt', 'marble.freeMemory', 'marble.selectModelsFolder', 'marble.showLogs',
  'marble.openPngAsWorkflow', 'marble.createDemoModel', 'marble.showModelsHelp', 'marble.clearConversionCache',
];

/** A valid 1×1 PNG (signature, IHDR, IDAT, IEND), enough for the asset path. */
const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

describe('Marble extension', () => {
  let marble: MarbleApi;
  before(async () => {
    marble = await api();
  });
  afterEach(async () => {
    marble._test.setImageGenerator(undefined);
    await closeAll();
  });

  it('activates and returns its API with test hooks', () => {
    assert.equal(typeof marble._test.applyWorkflowEdit, 'function');
    assert.equal(vscode.extensions.getExtension(EXTENSION_ID)!.isActive, true);
  });

  it('registers every contributed command', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    const missing = EXPECTED_COMMANDS.filter((c) => !all.has(c));
    assert.deepEqual(missing, []);
    const contributed = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.commands as { command: string; category: string }[]);
    assert.deepEqual(contributed.map((c) => c.command).sort(), [...EXPECTED_COMMANDS].sort());
    assert.ok(contributed.every((c) => c.category === 'Marble'), 'every command has category Marble');
  });

  it('Clear Conversion Cache empties the cache folder in global storage and reports the bytes freed', async () => {
    const root = path.join(path.dirname(marble._test.globalStorageModels()), 'conversion-cache');
    const source = path.join(workspaceRoot().fsPath, '.marble-test-source.safetensors');
    await fs.writeFile(source, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]));
    try {
      await new ConversionCache(root).ensure(source, {
        variant: { precision: 'fp32', epFamily: 'cpu', role: 'checkpoint' },
        prepare: async () => async (out) => {
          await fs.mkdir(path.join(out, 'unet'));
          await fs.writeFile(path.join(out, 'unet', 'model.onnx'), Buffer.alloc(50_000));
        },
      });
      const result = await vscode.commands.executeCommand<{ removed: number; freedBytes: number }>('marble.clearConversionCache');
      assert.equal(result.removed, 1);
      assert.ok(result.freedBytes >= 50_000, String(result.freedBytes));
      assert.deepEqual((await new ConversionCache(root).info()).entries, []);
    } finally {
      await fs.rm(source, { force: true });
    }
  });

  it('opens default.workflow.json in the Marble custom editor', async () => {
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json');
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    const input = await waitFor('the custom editor tab', () => {
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
      return tab?.input instanceof vscode.TabInputCustom ? tab.input : undefined;
    });
    assert.equal(input.viewType, VIEW_TYPE);
    assert.equal(input.uri.toString(), uri.toString());
    await waitFor('resolveCustomTextEditor', () => marble._test.editorCount(uri) > 0);
  });

  it('the graph page loads under its CSP and completes the ready → init handshake', async () => {
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json');
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    await waitFor('the webview to send ready (see the Marble log if the page failed to build)', () => marble._test.editorCount(uri, true) > 0, 45_000);
  });

  it('applies a workflow edit as one minimal edit, and undo restores the text', async () => {
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'edit-undo.workflow.json');
    const original = Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json'))).toString('utf8');
    await vscode.workspace.fs.writeFile(uri, Buffer.from(original, 'utf8'));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);

    // The first edit canonicalises the file; the second (a prompt change) must be a small one.
    const workflow = JSON.parse(doc.getText());
    await marble._test.applyWorkflowEdit(uri, workflow);
    const canonical = doc.getText();
    const changes: vscode.TextDocumentContentChangeEvent[] = [];
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document.uri.toString() === uri.toString()) changes.push(...e.contentChanges);
    });
    try {
      const positive = workflow.nodes.find((n: { id: number }) => n.id === 6);
      positive.widgets_values[0] = 'a lighthouse at dusk';
      assert.equal(await marble._test.applyWorkflowEdit(uri, workflow), true);
    } finally {
      sub.dispose();
    }
    // VS Code may split one replace into several character-level changes; all must stay inside
    // the prompt string, i.e. the rest of the file was not rewritten.
    assert.ok(changes.length >= 1);
    const start = Math.min(...changes.map((c) => c.rangeOffset));
    const end = Math.max(...changes.map((c) => c.rangeOffset + c.rangeLength));
    const promptAt = canonical.indexOf('beautiful scenery');
    assert.ok(start >= promptAt && end - start < 80, `changes span [${start}, ${end}) near the prompt at ${promptAt}`);
    assert.ok(doc.getText().includes('a lighthouse at dusk'));
    assert.equal(doc.isDirty, true);
    assert.equal(await marble._test.applyWorkflowEdit(uri, workflow), false, 'same workflow → no edit');

    await undoUntil(doc, 'undo', canonical);
    assert.ok(!doc.getText().includes('a lighthouse at dusk'));
  });

  it('rejects an edit that is not a workflow with a clear message', async () => {
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json');
    await assert.rejects(marble._test.applyWorkflowEdit(uri, { nodes: 'x' } as never), /"nodes" array/);
  });

  it('Generate Image saves the PNG into the output folder and inserts a Markdown reference; undo removes it', async () => {
    const root = workspaceRoot();
    const doc = await editTextFile(['docs', 'notes.md'], '# Notes\n\n', new vscode.Selection(2, 0, 2, 0));

    const staging = vscode.Uri.joinPath(root, '.staging');
    marble._test.setImageGenerator(stagedImageGenerator('Marble_00001_.png', TINY_PNG, 1234, (values) => {
      assert.equal(values.prompt, 'a red fox');
    }));
    const outcome = await vscode.commands.executeCommand<{ images: vscode.Uri[]; seed: number; inserted?: string }>(
      'marble.generateImage', { prompt: 'a red fox' },
    );
    assert.ok(outcome, 'the command returned its outcome');
    assert.equal(outcome.seed, 1234);
    const image = outcome.images[0]!;
    assert.equal(image.toString(), vscode.Uri.joinPath(root, 'assets', 'generated', 'Marble_00001_.png').toString());
    assert.deepEqual(Buffer.from(await vscode.workspace.fs.readFile(image)), TINY_PNG);
    await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(vscode.Uri.joinPath(staging, 'Marble_00001_.png'))), 'staged file moved');

    const expected = '![a red fox](../assets/generated/Marble_00001_.png)';
    assert.equal(outcome.inserted, expected);
    assert.equal(doc.getText(), `# Notes\n\n${expected}`);

    await undoUntil(doc, 'undo of the insertion', '# Notes\n\n');
  });

  it('a second image with the same name gets a free name instead of overwriting', async () => {
    marble._test.setImageGenerator(stagedImageGenerator('dup.png', TINY_PNG, 1));
    const folder = vscode.Uri.joinPath(workspaceRoot(), 'here');
    const first = await vscode.commands.executeCommand<{ images: vscode.Uri[] }>('marble.generateImageHere', { prompt: 'x', folder, insert: false });
    const second = await vscode.commands.executeCommand<{ images: vscode.Uri[] }>('marble.generateImageHere', { prompt: 'x', folder, insert: false });
    assert.equal(first.images[0]!.path.split('/').pop(), 'dup.png');
    assert.equal(second.images[0]!.path.split('/').pop(), 'dup_1.png');
  });
  it('Generate Image from Selection uses the selected text and inserts on the next line', async () => {
    const doc = await editTextFile(['selection.md'], 'a blue whale\n', new vscode.Selection(0, 0, 0, 12));
    let prompt = '';
    marble._test.setImageGenerator(stagedImageGenerator('whale.png', TINY_PNG, 7, (values) => { prompt = values.prompt; }));
    await vscode.commands.executeCommand('marble.generateFromSelection');
    assert.equal(prompt, 'a blue whale');
    assert.equal(doc.getText(), 'a blue whale\n![a blue whale](assets/generated/whale.png)\n');
  });

  it('Open PNG as Workflow writes <name>.workflow.json next to a ComfyUI PNG and opens it in the graph editor', async () => {
    // The checkout (runCodeServer passes it): the extension may be an installed VSIX elsewhere.
    const repo = process.env.MARBLE_REPO_ROOT ? vscode.Uri.file(process.env.MARBLE_REPO_ROOT) : vscode.extensions.getExtension(EXTENSION_ID)!.extensionUri;
    const source = vscode.Uri.joinPath(repo, 'test', 'fixtures', 'comfyui', 'examples', 'lora.png');
    const png = vscode.Uri.joinPath(workspaceRoot(), 'images', 'lora.png');
    await vscode.workspace.fs.writeFile(png, await vscode.workspace.fs.readFile(source));
    const created = await vscode.commands.executeCommand<vscode.Uri>('marble.openPngAsWorkflow', png);
    assert.equal(created?.toString(), vscode.Uri.joinPath(workspaceRoot(), 'images', 'lora.workflow.json').toString());
    const workflow = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(created)).toString('utf8'));
    assert.ok(workflow.nodes.some((n: { type: string }) => n.type === 'LoraLoader'), 'the LoRA example graph');
    await waitFor('the graph editor on the new file', () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return input instanceof vscode.TabInputCustom && input.uri.toString() === created.toString() ? true : undefined;
    });
  });
});
