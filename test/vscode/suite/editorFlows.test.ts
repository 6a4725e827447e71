// The everyday editor flows in a real extension host: validation errors as diagnostics on the
// right line of the .workflow.json, file names from New Workflow, an empty file opening blank,
// and "Convert to Workflow" for API-format prompts as one undoable edit.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { MarbleApi } from '../../../src/extension/extension';
import type { HostToGraph } from '../../../src/protocol/webview';
import {
  apiWithRealGenerator, closeAll, openInGraphEditor, readWorkspaceJson, waitFor, workspaceRoot, writeWorkspaceJson, type Wf,
} from './helpers';

/** 0-based line of the first line of `doc` matching `re`. */
function lineOf(doc: vscode.TextDocument, re: RegExp): number {
  const lines = doc.getText().split('\n');
  const i = lines.findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re}`);
  return i;
}

describe('editor flows', function () {
  this.timeout(120_000);
  let marble: MarbleApi;
  const posts: { uri: string; m: HostToGraph }[] = [];
  let tap: vscode.Disposable;

  before(async () => {
    marble = await apiWithRealGenerator();
    tap = marble._test.tapGraph((uri, m) => posts.push({ uri: uri.toString(), m }));
  });
  after(() => tap.dispose());
  afterEach(closeAll);

  it('New Workflow named "mine" creates mine.workflow.json (one suffix) and opens it', async () => {
    const created = await vscode.commands.executeCommand<vscode.Uri>('marble.newWorkflow', vscode.Uri.joinPath(workspaceRoot(), 'mine'));
    assert.equal(created?.path.split('/').pop(), 'mine.workflow.json');
    const again = await vscode.commands.executeCommand<vscode.Uri>('marble.newWorkflow', vscode.Uri.joinPath(workspaceRoot(), 'other.json'));
    assert.equal(again?.path.split('/').pop(), 'other.workflow.json');
    const wf = await readWorkspaceJson('mine.workflow.json');
    assert.ok(wf.nodes.some((n) => n.type === 'KSampler'), 'the default graph');
  });

  it('a prompt being typed gets its token count from the encoder\'s tokenizer, without an edit', async () => {
    const uri = await writeWorkspaceJson('draft.workflow.json', await readWorkspaceJson('default.workflow.json'));
    const doc = await openInGraphEditor(marble, uri);
    const version = doc.version;
    const counts = () => posts.filter((p) => p.uri === uri.toString() && p.m.type === 'tokenCounts').map((p) => p.m);
    await marble._test.graphMessage(uri, { type: 'promptDraft', node: '6', text: Array.from({ length: 80 }, () => 'cat').join(' ') });
    const merged = await waitFor('the draft\'s count', () => counts().find((m) => (m as { merge?: boolean }).merge), 20_000);
    assert.deepEqual(merged, { type: 'tokenCounts', counts: { 6: { tokens: 80, chunks: 2 } }, merge: true });
    assert.equal(doc.version, version, 'a draft is not an edit');
  });

  it('an empty .workflow.json opens as a blank canvas, not an error', async () => {
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'empty.workflow.json');
    await vscode.workspace.fs.writeFile(uri, new Uint8Array());
    await openInGraphEditor(marble, uri);
    const mine = () => posts.filter((p) => p.uri === uri.toString()).map((p) => p.m.type);
    await waitFor('init', () => mine().includes('init'));
    assert.ok(!mine().includes('parseError'), `posted: ${mine().join(', ')}`);
  });

  it('Convert to Workflow turns an API-format prompt into a UI workflow as one edit; undo restores it', async () => {
    const apiPrompt = {
      4: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly-fp16.safetensors' } },
      5: { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
      6: { class_type: 'CLIPTextEncode', inputs: { text: 'a red fox', clip: ['4', 1] } },
    };
    const uri = await writeWorkspaceJson('api.workflow.json', apiPrompt);
    const doc = await openInGraphEditor(marble, uri);
    const original = doc.getText();
    await marble._test.graphMessage(uri, { type: 'convertToWorkflow' });
    const wf = JSON.parse(doc.getText()) as Wf;
    assert.deepEqual(wf.nodes.map((n) => n.type).sort(), ['CLIPTextEncode', 'CheckpointLoaderSimple', 'EmptyLatentImage']);
    assert.ok(wf.nodes.every((n) => Array.isArray(n.pos)), 'laid out');
    assert.equal(wf.links.length, 1);
    await vscode.commands.executeCommand('undo');
    await waitFor('undo to restore the prompt', () => doc.getText() === original);
  });

  describe('validation errors as diagnostics', function () {
    before(function () {
      if (!process.env.MARBLE_MODELS) this.skip();
    });

    it('a node Marble cannot run and a value out of range are problems on their own lines, before anything runs', async () => {
      const wf = await readWorkspaceJson('default.workflow.json');
      wf.nodes.find((n) => n.id === 3)!.widgets_values![2] = 20000; // steps, max 10000
      const uri = await writeWorkspaceJson('invalid.workflow.json', wf);
      const doc = await openInGraphEditor(marble, uri);
      await marble._test.graphMessage(uri, { type: 'run' });
      const diags = await waitFor('diagnostics', () => vscode.languages.getDiagnostics(uri).length > 0 && vscode.languages.getDiagnostics(uri), 60_000);
      const steps = diags.find((d) => /steps/.test(d.message));
      assert.ok(steps, diags.map((d) => d.message).join(' | '));
      assert.equal(steps.source, 'Marble');
      assert.equal(steps.severity, vscode.DiagnosticSeverity.Error);
      assert.equal(doc.getText(steps.range), '20000', 'on the value itself');
      assert.doesNotMatch(steps.message, /failed:/);
      const errorPost = posts.filter((p) => p.uri === uri.toString() && p.m.type === 'error');
      assert.equal(errorPost.length, 1, 'the editor is told once');

      // A node Marble cannot run (ControlNet): said in words, on the node's line, before anything is queued.
      const lora = await readWorkspaceJson('default.workflow.json');
      lora.nodes.push({
        id: 10, type: 'ControlNetLoader', pos: [100, 800], size: [315, 58], flags: {}, order: 7, mode: 0,
        inputs: [],
        outputs: [{ name: 'CONTROL_NET', type: 'CONTROL_NET', links: null }],
        properties: {}, widgets_values: ['x.safetensors'],
      });
      lora.last_node_id = 10;
      const loraUri = await writeWorkspaceJson('lora.workflow.json', lora);
      const loraDoc = await openInGraphEditor(marble, loraUri);
      await marble._test.graphMessage(loraUri, { type: 'run' });
      const [d] = await waitFor('the ControlNet diagnostic', () => vscode.languages.getDiagnostics(loraUri).length > 0 && vscode.languages.getDiagnostics(loraUri), 60_000);
      assert.match(d!.message, /ControlNetLoader #10: Marble cannot run this node \(ControlNet: not yet\)/);
      assert.equal(d!.range.start.line, lineOf(loraDoc, /"id": 10,/));
    });
  });
});
