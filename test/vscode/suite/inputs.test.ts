// The graph editor's inputs, in a real extension host: prompt token counts sent to the real page,
// LoadImage reading the workspace's input folder (a real img2img run), the upload button's host
// side, and Generate Image results reaching the Generate view's gallery.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { deflateSync } from 'node:zlib';
import type { MarbleApi } from '../../../src/extension/extension';
import type { HostToGraph, TokenCount } from '../../../src/protocol/webview';
import { pngChunk } from '../../../src/workflow/png';
import {
  apiWithRealGenerator, closeAll, countChanges, newPngIn, openInGraphEditor, outputDir, pngsIn, readPngPrompt, readWorkspaceJson,
  showGenerateView, sleep, stagedImageGenerator, tapPanel, VIEW_TYPE, waitFor, workspaceRoot, writeWorkspaceJson, type Wf,
} from './helpers';

/** An RGB gradient PNG (a real picture for VAEEncode, not a flat colour). */
function gradientPng(size: number, tint: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows: Buffer[] = [];
  for (let y = 0; y < size; y++) {
    const row = [0];
    for (let x = 0; x < size; x++) row.push((x * 255) / size, (y * 255) / size, tint);
    rows.push(Buffer.from(row.map((v) => Math.round(v))));
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.concat(rows))), pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The default graph with EmptyLatentImage replaced by LoadImage → VAEEncode (img2img). */
async function img2imgWorkflow(image: string, steps: number, denoise: number): Promise<Wf> {
  const wf = await readWorkspaceJson('default.workflow.json');
  wf.nodes = wf.nodes.filter((n) => n.id !== 5);
  wf.links = wf.links.filter((l) => l[0] !== 2);
  wf.nodes.push(
    { id: 10, type: 'LoadImage', pos: [20, 600], size: [315, 314], flags: {}, order: 0, mode: 0, inputs: [],
      outputs: [{ name: 'IMAGE', type: 'IMAGE', links: [10] }, { name: 'MASK', type: 'MASK', links: null }],
      properties: { 'Node name for S&R': 'LoadImage' }, widgets_values: [image, 'image'] },
    { id: 11, type: 'VAEEncode', pos: [400, 600], size: [210, 46], flags: {}, order: 1, mode: 0,
      inputs: [{ name: 'pixels', type: 'IMAGE', link: 10 }, { name: 'vae', type: 'VAE', link: 11 }],
      outputs: [{ name: 'LATENT', type: 'LATENT', links: [2] }], properties: {} },
  );
  wf.links.push([10, 10, 0, 11, 0, 'IMAGE'], [11, 4, 2, 11, 1, 'VAE'], [2, 11, 0, 3, 3, 'LATENT']);
  wf.nodes.find((n) => n.id === 4)!.outputs![2]!.links!.push(11);
  const ks = wf.nodes.find((n) => n.id === 3)!;
  ks.widgets_values = [42, 'fixed', steps, 8, 'euler', 'normal', denoise];
  wf.last_link_id = 11;
  wf.last_node_id = 11;
  return wf;
}

describe('graph editor inputs (token counts, input folder, upload) and the gallery', function () {
  this.timeout(120_000);
  let marble: MarbleApi;
  const graphPosts: { uri: string; m: HostToGraph }[] = [];
  let tap: vscode.Disposable;

  before(async () => {
    marble = await apiWithRealGenerator();
    tap = marble._test.tapGraph((uri, m) => graphPosts.push({ uri: uri.toString(), m }));
  });
  after(() => {
    tap?.dispose();
    marble._test.setOpenDialog(undefined);
    marble._test.setImageGenerator(undefined);
  });
  afterEach(closeAll);

  const open = (uri: vscode.Uri) => openInGraphEditor(marble, uri, 'the graph page handshake');

  const postsTo = (uri: vscode.Uri, type: string) =>
    graphPosts.filter((p) => p.uri === uri.toString() && p.m.type === type).map((p) => p.m);

  it('the real page receives the token counts of the default graph\'s prompts, and new ones after an edit', async () => {
    const uri = await writeWorkspaceJson('tokens.workflow.json', await readWorkspaceJson('default.workflow.json'));
    await open(uri);
    const first = await waitFor('token counts', () => postsTo(uri, 'tokenCounts')[0], 20_000) as { counts: Record<string, TokenCount> };
    // ComfyUI's default prompts: 11 words + 1 comma… as CLIP BPE splits them.
    assert.deepEqual(first.counts, { 6: { tokens: 12, chunks: 1 }, 7: { tokens: 4, chunks: 1 } });

    const doc = await vscode.workspace.openTextDocument(uri);
    const wf = JSON.parse(doc.getText()) as Wf;
    wf.nodes.find((n) => n.id === 6)!.widgets_values![0] = Array.from({ length: 80 }, () => 'cat').join(' ');
    await marble._test.graphMessage(uri, { type: 'edit', workflow: wf, label: 'widget' });
    const next = await waitFor('recounted tokens', () => postsTo(uri, 'tokenCounts')[1], 10_000) as { counts: Record<string, TokenCount> };
    assert.deepEqual(next.counts, { 6: { tokens: 80, chunks: 2 }, 7: { tokens: 4, chunks: 1 } });
  });

  it('LoadImage reads the workspace input folder: an img2img run from the editor saves its image', async function () {
    if (!process.env.MARBLE_MODELS) this.skip();
    const inputDir = vscode.Uri.joinPath(workspaceRoot(), 'input');
    await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(inputDir, 'photo.png'), gradientPng(128, 90));
    const uri = await writeWorkspaceJson('img2img.workflow.json', await img2imgWorkflow('photo.png', 3, 0.5));
    await open(uri);
    // The page's LoadImage list is the input folder (live backend or static catalogue alike).
    const init = await waitFor('init', () => postsTo(uri, 'init')[0], 10_000) as { objectInfo: Record<string, { input: { required: Record<string, unknown[]> } }> };
    assert.ok((init.objectInfo.LoadImage!.input.required.image![0] as string[]).includes('photo.png'));

    const out = outputDir();
    const before = await pngsIn(out);
    await marble._test.graphMessage(uri, { type: 'run' });
    const name = await newPngIn(out, before, 'the img2img PNG', 100_000);
    const prompt = await readPngPrompt(vscode.Uri.joinPath(out, name));
    const byClass = (c: string) => Object.values(prompt).find((n) => n.class_type === c);
    assert.equal(byClass('LoadImage')?.inputs.image, 'photo.png');
    assert.ok(byClass('VAEEncode'), 'the image was encoded');
    assert.equal(byClass('KSampler')?.inputs.denoise, 0.5);
    assert.equal(postsTo(uri, 'error').length, 0, JSON.stringify(postsTo(uri, 'error')));
  });

  it('the upload button copies the picked image into the input folder and sets the widget as one edit; undo restores', async () => {
    const inputDir = vscode.Uri.joinPath(workspaceRoot(), 'input');
    const picked = vscode.Uri.joinPath(workspaceRoot(), 'pictures', 'upload-me.png');
    const bytes = gradientPng(32, 10);
    await vscode.workspace.fs.writeFile(picked, bytes);
    const uri = await writeWorkspaceJson('upload.workflow.json', await img2imgWorkflow('photo.png', 3, 0.5));
    const doc = await open(uri);
    let dialogs = 0;
    marble._test.setOpenDialog(async (o) => {
      dialogs++;
      assert.ok(o.filters?.Images?.includes('png'), 'images only');
      return [picked];
    });
    const changes = countChanges(uri);
    try {
      const original = doc.getText();
      const v0 = doc.version;
      await marble._test.graphMessage(uri, { type: 'upload', node: '10', widget: 'image' });
      assert.equal(dialogs, 1);
      assert.deepEqual(Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(inputDir, 'upload-me.png'))), bytes);
      const image = () => (JSON.parse(doc.getText()) as Wf).nodes.find((n) => n.id === 10)!.widgets_values;
      assert.deepEqual(image(), ['upload-me.png', 'image']);
      await sleep(300);
      assert.equal(changes.count, 1, 'one document change');
      assert.equal(doc.version, v0 + 1, 'one edit');
      const combo = postsTo(uri, 'comboValues').find((m) => (m as { classType: string }).classType === 'LoadImage') as { values: string[] } | undefined;
      assert.ok(combo?.values.includes('upload-me.png') && combo.values.includes('photo.png'), JSON.stringify(combo));

      // The same file again is reused; different bytes under the same name get a free name.
      await marble._test.graphMessage(uri, { type: 'upload', node: '10', widget: 'image' });
      assert.deepEqual(image(), ['upload-me.png', 'image']);
      await vscode.workspace.fs.writeFile(picked, gradientPng(32, 200));
      await marble._test.graphMessage(uri, { type: 'upload', node: '10', widget: 'image' });
      assert.deepEqual(image(), ['upload-me (1).png', 'image']);

      // Cancelled dialog: nothing happens. A node without an upload input: a clear error is logged, no edit.
      marble._test.setOpenDialog(async () => undefined);
      const v1 = doc.version;
      await marble._test.graphMessage(uri, { type: 'upload', node: '10', widget: 'image' });
      await marble._test.graphMessage(uri, { type: 'upload', node: '3', widget: 'seed' });
      assert.equal(doc.version, v1);

      await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
      await vscode.commands.executeCommand('undo');
      await waitFor('undo of the second upload', () => image()![0] === 'upload-me.png', 10_000);
      await vscode.commands.executeCommand('undo');
      await waitFor('undo of the first upload', () => doc.getText() === original, 10_000);
    } finally {
      changes.dispose();
      marble._test.setOpenDialog(undefined);
    }
  });

  it('images from Generate Image appear in the Generate view\'s gallery', async () => {
    await showGenerateView(marble);
    marble._test.setImageGenerator(stagedImageGenerator('gallery-test.png', gradientPng(16, 1), 99));
    const panelTap = tapPanel(marble);
    const posted = panelTap.posted;
    try {
      const outcome = await vscode.commands.executeCommand<{ images: vscode.Uri[] }>(
        'marble.generateImageHere', { prompt: 'a gallery fox', folder: vscode.Uri.joinPath(workspaceRoot(), 'gallery'), insert: false },
      );
      await marble._test.galleryWritten();
      const path = outcome.images[0]!.fsPath;
      const gallery = panelTap.first('gallery');
      assert.ok(gallery, `a gallery update was posted: ${posted.map((m) => m.type).join(',')}`);
      assert.equal(gallery.items[0]?.path, path);
      assert.equal(gallery.items[0]?.prompt, 'a gallery fox');
      assert.equal(gallery.items[0]?.seed, 99);
      // A reloaded page still has it.
      posted.length = 0;
      await marble._test.panelMessage({ type: 'ready', version: 1 });
      const init = panelTap.first('init');
      assert.equal(init?.gallery[0]?.path, path);
    } finally {
      panelTap.dispose();
      marble._test.setImageGenerator(undefined);
    }
  });
});
