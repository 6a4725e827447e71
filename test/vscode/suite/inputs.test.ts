// The graph editor's inputs, in a real extension host: prompt token counts sent to the real page,
// LoadImage reading the workspace's input folder (a real img2img run), the upload button's host
// side, and Generate Image results reaching the Generate view's gallery.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { deflateSync } from 'node:zlib';
import type { MarbleApi } from '../../../src/extension/extension';
import type { HostToGraph, HostToPanel, TokenCount } from '../../../src/protocol/webview';
import { readPngMetadata } from '../../../src/workflow/png';

const EXTENSION_ID = 'marble.marble-diffusion';
const VIEW_TYPE = 'marble.workflowEditor';

interface Node { id: number; type: string; widgets_values?: unknown[]; inputs?: { name: string; type: string; link: number | null }[]; outputs?: { name: string; type: string; links: number[] | null }[]; [k: string]: unknown }
interface Wf { nodes: Node[]; links: unknown[][]; last_link_id: number; last_node_id: number; [k: string]: unknown }

const root = () => vscode.workspace.workspaceFolders![0]!.uri;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** An RGB gradient PNG (a real picture for VAEEncode, not a flat colour). */
function gradientPng(size: number, tint: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
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
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function readWorkflow(name: string): Promise<Wf> {
  return JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(root(), name))).toString('utf8'));
}

async function writeJson(name: string, value: unknown): Promise<vscode.Uri> {
  const uri = vscode.Uri.joinPath(root(), name);
  await vscode.workspace.fs.writeFile(uri, Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8'));
  return uri;
}

/** The default graph with EmptyLatentImage replaced by LoadImage → VAEEncode (img2img). */
async function img2imgWorkflow(image: string, steps: number, denoise: number): Promise<Wf> {
  const wf = await readWorkflow('default.workflow.json');
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
    marble = await vscode.extensions.getExtension<MarbleApi>(EXTENSION_ID)!.activate();
    marble._test.setImageGenerator(undefined);
    tap = marble._test.tapGraph((uri, m) => graphPosts.push({ uri: uri.toString(), m }));
  });
  after(() => {
    tap?.dispose();
    marble._test.setOpenDialog(undefined);
    marble._test.setImageGenerator(undefined);
  });
  afterEach(async () => {
    for (const d of vscode.workspace.textDocuments) if (d.isDirty && !d.isUntitled) await d.save();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  async function open(uri: vscode.Uri): Promise<vscode.TextDocument> {
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    await waitFor('the graph page handshake', () => marble._test.editorCount(uri, true) > 0, 45_000);
    return vscode.workspace.openTextDocument(uri);
  }

  const postsTo = (uri: vscode.Uri, type: string) =>
    graphPosts.filter((p) => p.uri === uri.toString() && p.m.type === type).map((p) => p.m);

  it('the real page receives the token counts of the default graph\'s prompts, and new ones after an edit', async () => {
    const uri = await writeJson('tokens.workflow.json', await readWorkflow('default.workflow.json'));
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
    const inputDir = vscode.Uri.joinPath(root(), 'input');
    await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(inputDir, 'photo.png'), gradientPng(128, 90));
    const uri = await writeJson('img2img.workflow.json', await img2imgWorkflow('photo.png', 3, 0.5));
    await open(uri);
    // The page's LoadImage list is the input folder (live backend or static catalogue alike).
    const init = await waitFor('init', () => postsTo(uri, 'init')[0], 10_000) as { objectInfo: Record<string, { input: { required: Record<string, unknown[]> } }> };
    assert.ok((init.objectInfo.LoadImage!.input.required.image![0] as string[]).includes('photo.png'));

    const out = vscode.Uri.joinPath(root(), 'assets', 'generated');
    const list = async () => (await vscode.workspace.fs.readDirectory(out).then(undefined, () => [])).map(([n]) => n).filter((n) => n.endsWith('.png'));
    const before = await list();
    await marble._test.graphMessage(uri, { type: 'run' });
    const name = await waitFor('the img2img PNG', async () => (await list()).find((n) => !before.includes(n)), 100_000);
    const prompt = JSON.parse(readPngMetadata(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(out, name))).prompt!) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    const byClass = (c: string) => Object.values(prompt).find((n) => n.class_type === c);
    assert.equal(byClass('LoadImage')?.inputs.image, 'photo.png');
    assert.ok(byClass('VAEEncode'), 'the image was encoded');
    assert.equal(byClass('KSampler')?.inputs.denoise, 0.5);
    assert.equal(postsTo(uri, 'error').length, 0, JSON.stringify(postsTo(uri, 'error')));
  });

  it('the upload button copies the picked image into the input folder and sets the widget as one edit; undo restores', async () => {
    const inputDir = vscode.Uri.joinPath(root(), 'input');
    const picked = vscode.Uri.joinPath(root(), 'pictures', 'upload-me.png');
    const bytes = gradientPng(32, 10);
    await vscode.workspace.fs.writeFile(picked, bytes);
    const uri = await writeJson('upload.workflow.json', await img2imgWorkflow('photo.png', 3, 0.5));
    const doc = await open(uri);
    let dialogs = 0;
    marble._test.setOpenDialog(async (o) => {
      dialogs++;
      assert.ok(o.filters?.Images?.includes('png'), 'images only');
      return [picked];
    });
    let changes = 0;
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document.uri.toString() === uri.toString() && e.contentChanges.length > 0) changes++;
    });
    try {
      const original = doc.getText();
      const v0 = doc.version;
      await marble._test.graphMessage(uri, { type: 'upload', node: '10', widget: 'image' });
      assert.equal(dialogs, 1);
      assert.deepEqual(Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(inputDir, 'upload-me.png'))), bytes);
      const image = () => (JSON.parse(doc.getText()) as Wf).nodes.find((n) => n.id === 10)!.widgets_values;
      assert.deepEqual(image(), ['upload-me.png', 'image']);
      await sleep(300);
      assert.equal(changes, 1, 'one document change');
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
      sub.dispose();
      marble._test.setOpenDialog(undefined);
    }
  });

  it('images from Generate Image appear in the Generate view\'s gallery', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.marble');
    await waitFor('the Generate view handshake', () => marble._test.panelReady(), 30_000);
    const staging = vscode.Uri.joinPath(root(), '.staging');
    marble._test.setImageGenerator({
      async generate() {
        const staged = vscode.Uri.joinPath(staging, 'gallery-test.png');
        await vscode.workspace.fs.writeFile(staged, gradientPng(16, 1));
        return { files: [staged], seed: 99 };
      },
    });
    const posted: HostToPanel[] = [];
    const panelTap = marble._test.tapPanel((m) => posted.push(m));
    try {
      const outcome = await vscode.commands.executeCommand<{ images: vscode.Uri[] }>(
        'marble.generateImageHere', { prompt: 'a gallery fox', folder: vscode.Uri.joinPath(root(), 'gallery'), insert: false },
      );
      await marble._test.galleryWritten();
      const path = outcome.images[0]!.fsPath;
      const gallery = posted.find((m): m is Extract<HostToPanel, { type: 'gallery' }> => m.type === 'gallery');
      assert.ok(gallery, `a gallery update was posted: ${posted.map((m) => m.type).join(',')}`);
      assert.equal(gallery.items[0]?.path, path);
      assert.equal(gallery.items[0]?.prompt, 'a gallery fox');
      assert.equal(gallery.items[0]?.seed, 99);
      // A reloaded page still has it.
      posted.length = 0;
      await marble._test.panelMessage({ type: 'ready', version: 1 });
      const init = posted.find((m): m is Extract<HostToPanel, { type: 'init' }> => m.type === 'init');
      assert.equal(init?.gallery[0]?.path, path);
    } finally {
      panelTap.dispose();
      marble._test.setImageGenerator(undefined);
    }
  });
});
