// Real generations inside VS Code: the inference child process runs the default workflow on the
// generated default model (runCodeServer.mjs creates it and passes MARBLE_MODELS), so these
// tests cover the whole path a user takes, with no stand-in generator.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { readPngMetadata } from '../../../src/workflow/png';
import { apiWithRealGenerator, closeAll, editTextFile, newPngIn, outputDir, pngsIn, readPngPrompt, undoUntil, VIEW_TYPE, workspaceRoot, type ApiPrompt } from './helpers';

describe('real generation (generated default model)', function () {
  this.timeout(120_000);

  before(async function () {
    if (!process.env.MARBLE_MODELS) this.skip();
    await apiWithRealGenerator();
  });

  afterEach(closeAll);

  it('Generate Image runs the default workflow, saves a ComfyUI PNG in the workspace and links it; undo removes the link', async () => {
    const doc = await editTextFile(['real-notes.md'], 'Intro\n', new vscode.Selection(1, 0, 1, 0));

    const outcome = await vscode.commands.executeCommand<{ images: vscode.Uri[]; seed: number; inserted?: string }>(
      'marble.generateImage', { prompt: 'a lighthouse at dusk' },
    );
    assert.ok(outcome && outcome.images.length === 1, 'one image generated');
    const image = outcome.images[0]!;
    assert.ok(image.path.includes('/assets/generated/'), `saved under assets/generated: ${image.path}`);
    const bytes = await vscode.workspace.fs.readFile(image);
    const meta = readPngMetadata(bytes);
    const prompt = JSON.parse(meta.prompt!) as ApiPrompt;
    const encoders = Object.values(prompt).filter((n) => n.class_type === 'CLIPTextEncode').map((n) => n.inputs.text);
    assert.ok(encoders.includes('a lighthouse at dusk'), 'the prompt chunk carries the typed prompt');
    const sampler = Object.values(prompt).find((n) => n.class_type === 'KSampler')!;
    assert.equal(String(sampler.inputs.seed), String(outcome.seed), 'the PNG records the seed actually used');
    assert.ok(JSON.parse(meta.workflow!).nodes.length >= 7, 'the workflow chunk carries the UI graph');

    const name = image.path.split('/').pop()!;
    assert.equal(outcome.inserted, `![a lighthouse at dusk](assets/generated/${name})`);
    assert.ok(doc.getText().includes(outcome.inserted!));
    await undoUntil(doc, 'undo of the insertion', 'Intro\n', 10_000);
  });

  it('Run Workflow on an open .workflow.json produces its image in the output folder', async () => {
    const out = outputDir();
    const before = await pngsIn(out);
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json');
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    await vscode.commands.executeCommand('marble.runWorkflow', uri);
    const added = await newPngIn(out, before, 'a new PNG from the run', 60_000);
    const prompt = await readPngPrompt(vscode.Uri.joinPath(out, added));
    assert.equal(prompt['6']?.inputs.text, 'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,');
  });
});
