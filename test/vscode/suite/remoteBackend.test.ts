// ComfyUI servers as backends: marble.backends points at a `marble serve` this test starts (on
// 127.0.0.1, over the generated default model), the backend is switched to it, and Generate Image
// and Run Workflow go through its HTTP + websocket API — the server's history proves the prompts
// ran there, and the images land in the workspace exactly as with the built-in engine.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MarbleServer } from '../../../src/server/httpServer';
import { readPngMetadata } from '../../../src/workflow/png';
import { apiWithRealGenerator, closeAll, EXTENSION_ID, newPngIn, outputDir, pngsIn, readPngPrompt, VIEW_TYPE, waitFor, workspaceRoot, type ApiPrompt } from './helpers';

describe('ComfyUI server as backend (marble.backends → marble serve)', function () {
  this.timeout(180_000);
  let server: MarbleServer | undefined;
  let url = '';
  let dir = '';

  before(async function () {
    if (!process.env.MARBLE_MODELS) this.skip();
    await apiWithRealGenerator();
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-remote-server-'));
    server = new MarbleServer({
      listen: '127.0.0.1',
      port: 0,
      entry: path.join(ext.extensionPath, 'dist', 'inference.js'),
      engine: {
        modelsRoots: [process.env.MARBLE_MODELS!], outputDir: path.join(dir, 'output'), inputDir: path.join(dir, 'input'),
        tempDir: path.join(dir, 'temp'), ep: 'cpu', memoryBudgetMB: 0, previews: true,
      },
    });
    const { port } = await server.start();
    url = `http://127.0.0.1:${port}`;
    await vscode.workspace.getConfiguration('marble').update('backends', ['builtin', url], vscode.ConfigurationTarget.Global);
    const chosen = await vscode.commands.executeCommand<string>('marble.selectBackend', url);
    assert.equal(chosen, url);
  });

  after(async () => {
    await closeAll();
    if (url) {
      await vscode.commands.executeCommand('marble.selectBackend', 'builtin');
      await vscode.workspace.getConfiguration('marble').update('backends', undefined, vscode.ConfigurationTarget.Global);
    }
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const serverPrompts = () => Object.values(server!.queue.getHistory()).map((h) => h.prompt[2] as ApiPrompt);

  it('Generate Image runs on the server; the PNG is saved in the workspace with its workflow and linked', async () => {
    const before = serverPrompts().length;
    const outcome = await vscode.commands.executeCommand<{ images: vscode.Uri[]; seed: number }>('marble.generateImage', { prompt: 'a remote lighthouse' });
    assert.ok(outcome && outcome.images.length === 1, 'one image generated');
    const image = outcome.images[0]!;
    assert.ok(image.path.includes('/assets/generated/'), image.path);
    const prompts = serverPrompts();
    assert.equal(prompts.length, before + 1, 'the prompt ran on the server');
    const texts = Object.values(prompts.at(-1)!).filter((n) => n.class_type === 'CLIPTextEncode').map((n) => n.inputs.text);
    assert.ok(texts.includes('a remote lighthouse'));
    const meta = readPngMetadata(await vscode.workspace.fs.readFile(image));
    assert.ok(JSON.parse(meta.workflow!).nodes.length >= 7, 'the workflow chunk survived the trip through the server');
    // The server's file and the workspace's are the same image.
    const h = Object.values(server!.queue.getHistory()).at(-1)!;
    const ref = (Object.values(h.outputs)[0] as { images: { filename: string; subfolder: string }[] }).images[0];
    const onServer = fs.readFileSync(path.join(dir, 'output', ref.subfolder, ref.filename));
    assert.ok(Buffer.from(await vscode.workspace.fs.readFile(image)).equals(onServer));
  });

  it('Run Workflow on an open .workflow.json runs on the server and its image lands in the output folder', async () => {
    const before = serverPrompts().length;
    const out = outputDir();
    const pngs = await pngsIn(out);
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'default.workflow.json');
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    await vscode.commands.executeCommand('marble.runWorkflow', uri);
    const added = await newPngIn(out, pngs, 'a new PNG from the remote run', 90_000);
    const prompt = await readPngPrompt(vscode.Uri.joinPath(out, added));
    assert.equal(prompt['6']?.inputs.text, 'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,');
    assert.equal(serverPrompts().length, before + 1, 'the workflow ran on the server');
  });

  it('lists the server\'s nodes without a run, and Interrupt stops the prompt running there', async () => {
    const marble = await apiWithRealGenerator();
    await marble.backend.stopClient();
    const info = await marble.backend.objectInfoIfRunning();
    assert.ok(info, 'a ComfyUI server is asked for its node list even when no client runs yet');
    const fromServer = await (await fetch(`${url}/object_info`)).json();
    assert.deepEqual(Object.keys(info).sort(), Object.keys(fromServer).sort());
    assert.deepEqual(info.CheckpointLoaderSimple.input.required!.ckpt_name, fromServer.CheckpointLoaderSimple.input.required.ckpt_name);

    const generating = vscode.commands.executeCommand('marble.generateImage', { prompt: 'to be interrupted' });
    const settled = Promise.resolve(generating).then(() => 'finished', () => 'failed');
    await waitFor('the prompt to run on the server', () => server!.queue.current().running.length > 0, 60_000);
    const running = server!.queue.current().running[0][1];
    await vscode.commands.executeCommand('marble.interrupt');
    await settled;
    const h = await waitFor('the interrupted prompt in the server history', () => server!.queue.getHistory({ promptId: running })[running], 60_000);
    assert.equal(h.status.messages.at(-1)![0], 'execution_interrupted');
  });
});
