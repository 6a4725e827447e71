// Where the extension host meets its webviews, checked in a real extension host with the real
// inference process: control_after_generate applied once per run whichever way the run started,
// the edit echo guard under canonical formatting, the Generate view's message path, and the
// status bar following a real run. Webview messages go through the providers' own receive path
// (`_test.graphMessage` / `_test.panelMessage`: the same validation and handling as a page's).
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { MarbleApi } from '../../../src/extension/extension';
import { describePhase } from '../../../src/extension/backendPhase';
import { readPngMetadata } from '../../../src/workflow/png';
import {
  apiWithRealGenerator, closeAll, countChanges, newPngIn, openInGraphEditor, outputDir, pngsIn, readWorkspaceJson, showGenerateView,
  sleep, tapPanel, waitFor, writeWorkspaceJson, type ApiPrompt, type Wf,
} from './helpers';

const pngs = () => pngsIn(outputDir());

/** Waits for one PNG that was not in `before` and returns its ComfyUI metadata. */
async function newPng(before: string[]): Promise<{ name: string; prompt: ApiPrompt; workflow: Wf }> {
  const name = await newPngIn(outputDir(), before, 'a new PNG in assets/generated', 60_000);
  const meta = readPngMetadata(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(outputDir(), name)));
  return { name, prompt: JSON.parse(meta.prompt!), workflow: JSON.parse(meta.workflow!) };
}

const seedOf = (doc: vscode.TextDocument) => (JSON.parse(doc.getText()) as Wf).nodes.find((n) => n.id === 3)!.widgets_values![0];
const samplerSeed = (p: ApiPrompt) => Object.values(p).find((n) => n.class_type === 'KSampler')!.inputs.seed;

/** A copy of the test workspace's default workflow with KSampler seed/control/steps set. */
async function writeWorkflow(name: string, seed: number, control: string, steps = 4): Promise<vscode.Uri> {
  const base = await readWorkspaceJson('default.workflow.json');
  const ks = base.nodes.find((n) => n.id === 3)!;
  ks.widgets_values![0] = seed;
  ks.widgets_values![1] = control;
  ks.widgets_values![2] = steps;
  return writeWorkspaceJson(name, base);
}

describe('host ↔ webview seams', function () {
  this.timeout(120_000);
  let marble: MarbleApi;

  before(async () => {
    marble = await apiWithRealGenerator();
  });
  afterEach(closeAll);

  describe('edits from the graph editor (canonical JSON, echo guard)', () => {
    it('an edit posted by the page is one document change, and nothing follows within 1 s', async () => {
      const uri = await writeWorkflow('echo.workflow.json', 5, 'fixed');
      const doc = await openInGraphEditor(marble, uri);
      const changes = countChanges(uri);
      try {
        const wf = JSON.parse(doc.getText()) as Wf;
        wf.nodes.find((n) => n.id === 6)!.widgets_values![0] = 'a harbour at night';
        const v0 = doc.version;
        await marble._test.graphMessage(uri, { type: 'edit', workflow: wf, label: 'widget' });
        await sleep(1000);
        assert.equal(changes.count, 1, 'one change event');
        assert.equal(doc.version, v0 + 1, 'one document version');
        assert.ok(doc.getText().includes('"a harbour at night"'));
        // Canonical form: short arrays on one line.
        assert.match(doc.getText(), /"pos": \[\d+, \d+\]/);

        // The same workflow again (what a page sends after an update it already shows): no edit.
        await marble._test.graphMessage(uri, { type: 'edit', workflow: JSON.parse(doc.getText()), label: 'widget' });
        await sleep(300);
        assert.equal(doc.version, v0 + 1, 'an unchanged workflow is no edit');
      } finally {
        changes.dispose();
      }
    });

    it('a change made elsewhere reaches the open page, which does not answer with an edit', async () => {
      const uri = await writeWorkflow('echo2.workflow.json', 5, 'fixed');
      const doc = await openInGraphEditor(marble, uri);
      const changes = countChanges(uri);
      try {
        const wf = JSON.parse(doc.getText()) as Wf;
        wf.nodes.find((n) => n.id === 5)!.widgets_values = [768, 512, 1];
        const v0 = doc.version;
        assert.equal(await marble._test.applyWorkflowEdit(uri, wf as never), true);
        // The real page receives this text as an update and reloads its graph; an echo would be
        // a second change here.
        await sleep(1000);
        assert.equal(changes.count, 1);
        assert.equal(doc.version, v0 + 1);
      } finally {
        changes.dispose();
      }
    });

    it('messages that fail the protocol guards are ignored', async () => {
      const uri = await writeWorkflow('guard.workflow.json', 5, 'fixed');
      const doc = await openInGraphEditor(marble, uri);
      const v0 = doc.version;
      await marble._test.graphMessage(uri, { type: 'edit', workflow: { nodes: 'x' } });
      await marble._test.graphMessage(uri, { type: 'runEverything' });
      await marble._test.graphMessage(uri, 'run');
      await sleep(300);
      assert.equal(doc.version, v0);
    });
  });

  describe('control_after_generate, default: the file is left alone', function () {
    before(function () {
      if (!process.env.MARBLE_MODELS) this.skip();
    });

    it('two Runs from the editor use 42 then 43, show each on the node, record it in the PNG, and never edit the file', async () => {
      assert.equal(vscode.workspace.getConfiguration('marble').get('seedControlWritesFile'), false, 'off by default');
      const uri = await writeWorkflow('seedkept.workflow.json', 42, 'increment');
      const doc = await openInGraphEditor(marble, uri);
      const text = doc.getText();
      const shown: unknown[] = [];
      const tap = marble._test.tapGraph((u, m) => { if (u.toString() === uri.toString() && m.type === 'controlledValues') shown.push(m.values); });
      const changes = countChanges(uri);
      const names: string[] = [];
      try {
        for (const expected of [42, 43]) {
          const before = await pngs();
          await marble._test.graphMessage(uri, { type: 'run' });
          const png = await newPng(before);
          names.push(png.name);
          assert.equal(String(samplerSeed(png.prompt)), String(expected), `run used seed ${expected}`);
          assert.equal(png.workflow.nodes.find((n) => n.id === 3)!.widgets_values![0], expected, 'the PNG\'s workflow records the seed used');
          await waitFor('the run to end', () => !marble.backend.busy, 30_000);
        }
        assert.deepEqual(shown, [[{ node: '3', widget: 'seed', value: 42 }], [{ node: '3', widget: 'seed', value: 43 }]]);
        // One SaveImage counter, as the CLI counts: ComfyUI_0000N_.png then N+1, never "__1".
        const counters = names.map((n) => Number(/^ComfyUI_(\d{5})_\.png$/.exec(n)?.[1]));
        assert.ok(counters.every((c) => c > 0), names.join(', '));
        assert.equal(counters[1], counters[0]! + 1, names.join(', '));
        await sleep(500);
        assert.equal(changes.count, 0, 'the document was not edited');
        assert.equal(doc.getText(), text);
        assert.equal(doc.isDirty, false);
      } finally {
        tap.dispose();
        changes.dispose();
      }
    });
  });

  describe('control_after_generate with marble.seedControlWritesFile on (ComfyUI\'s behaviour)', function () {
    before(async function () {
      if (!process.env.MARBLE_MODELS) this.skip();
      await vscode.workspace.getConfiguration('marble').update('seedControlWritesFile', true, vscode.ConfigurationTarget.Global);
    });
    after(async () => {
      await vscode.workspace.getConfiguration('marble').update('seedControlWritesFile', undefined, vscode.ConfigurationTarget.Global);
    });

    it('Run from the graph editor: the PNG has the seed shown, the document then shows one increment', async () => {
      const uri = await writeWorkflow('seed.workflow.json', 42, 'increment');
      const doc = await openInGraphEditor(marble, uri);
      const phases: string[] = [];
      const phaseSub = marble.backend.onDidChangePhase((p) => phases.push(describePhase(p).text));
      const changes = countChanges(uri);
      try {
        const before = await pngs();
        await marble._test.graphMessage(uri, { type: 'run' });
        const png = await newPng(before);
        assert.equal(String(samplerSeed(png.prompt)), '42', 'the run used the seed shown when it was queued');
        assert.equal(png.workflow.nodes.find((n) => n.id === 3)!.widgets_values![0], 42, 'the embedded workflow is the queued one');
        await waitFor('the run to end', () => !marble.backend.busy, 30_000);
        await sleep(1000);
        assert.equal(seedOf(doc), 43, 'exactly one increment');
        assert.equal(changes.count, 1, 'one document change for the control');

        // The status bar followed the run: loading the model, sampler steps, then idle.
        assert.ok(phases.includes('$(loading~spin) Marble: loading model') || phases.some((p) => /Marble: step/.test(p)), phases.join(' | '));
        assert.ok(phases.includes('$(loading~spin) Marble: step 4 of 4'), `steps shown: ${phases.join(' | ')}`);
        assert.equal(describePhase(marble.backend.phase).text, '$(circle-filled) Marble', 'idle at the end');
      } finally {
        phaseSub.dispose();
        changes.dispose();
      }
    });

    it('Run Workflow from the palette (no editor) and from the editor title: one step each', async () => {
      const uri = await writeWorkflow('seed2.workflow.json', 100, 'decrement');
      // Palette / explorer: the file is not open in any editor.
      let before = await pngs();
      await vscode.commands.executeCommand('marble.runWorkflow', uri);
      let png = await newPng(before);
      assert.equal(String(samplerSeed(png.prompt)), '100');
      await waitFor('the run to end', () => !marble.backend.busy, 30_000);
      const doc = await vscode.workspace.openTextDocument(uri);
      assert.equal(seedOf(doc), 99);
      await doc.save();

      // Editor title button: the command without arguments, with the graph editor active.
      await openInGraphEditor(marble, uri);
      const changes = countChanges(uri);
      try {
        before = await pngs();
        await vscode.commands.executeCommand('marble.runWorkflow');
        png = await newPng(before);
        assert.equal(String(samplerSeed(png.prompt)), '99');
        await waitFor('the run to end', () => !marble.backend.busy, 30_000);
        await sleep(1000);
        assert.equal(seedOf(doc), 98);
        assert.equal(changes.count, 1);
      } finally {
        changes.dispose();
      }
    });
  });

  describe('the Generate view', function () {
    before(function () {
      if (!process.env.MARBLE_MODELS) this.skip();
    });

    it('opens, generates through its message path, posts the result and keeps it in the gallery', async () => {
      await showGenerateView(marble);
      const tap = tapPanel(marble);
      const posted = tap.posted;
      try {
        // Invalid input from the page is refused before anything runs.
        await marble._test.panelMessage({ type: 'generate', prompt: 5 });
        await marble._test.panelMessage({ type: 'galleryAction', action: 'delete', path: '/etc/passwd' });
        assert.equal(posted.length, 0, `nothing posted: ${JSON.stringify(posted)}`);

        const before = await pngs();
        await marble._test.panelMessage({
          type: 'generate', prompt: 'a red barn', negative: 'blurry', model: '', width: 512, height: 512, steps: 3, cfg: 7,
          sampler: 'euler', scheduler: 'normal', seed: 7, seedMode: 'increment', batch: 1,
        });
        const png = await newPng(before);
        assert.equal(String(samplerSeed(png.prompt)), '7');
        const types = posted.map((m) => m.type);
        assert.equal(types[0], 'status');
        assert.ok(types.includes('progress'), types.join(','));
        const result = tap.first('result');
        assert.ok(result, `a result was posted: ${types.join(',')}`);
        assert.equal(result.nextSeed, 8, 'the seed field moves on by one increment');
        assert.equal(result.images.length, 1);
        assert.ok(result.images[0]!.path.endsWith(`/assets/generated/${png.name}`), result.images[0]!.path);
        assert.equal(result.images[0]!.prompt, 'a red barn');
        assert.deepEqual(posted.at(-1), { type: 'status', state: 'done' });

        // A reloaded page gets the gallery back in its init.
        posted.length = 0;
        await marble._test.panelMessage({ type: 'ready', version: 1 });
        const init = tap.first('init');
        assert.ok(init);
        assert.equal(init.gallery[0]?.path, result.images[0]!.path);
        assert.ok(init.models.length > 0, 'the model list comes from the running backend');
      } finally {
        tap.dispose();
      }
    });
  });
});
