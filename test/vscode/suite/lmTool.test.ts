// Generate Image as a language model tool, called the way agent-mode chat calls it
// (vscode.lm.invokeTool): the real inference child generates on the generated default model, and
// the tool answers with the saved path and a Markdown reference. VS Code accepts tool
// confirmations by itself while extension tests run, so the confirmation's content is read
// through a test hook.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { readPngMetadata } from '../../../src/workflow/png';
import { apiWithRealGenerator, closeAll, workspaceRoot, type ApiPrompt } from './helpers';

const TOOL = 'marble_generateImage';

function textOf(result: vscode.LanguageModelToolResult): string {
  return result.content.map((p) => (p as { value?: unknown }).value).filter((v) => typeof v === 'string').join('');
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  return vscode.workspace.fs.stat(uri).then(() => true, () => false);
}

describe('marble_generateImage (language model tool)', function () {
  this.timeout(120_000);

  before(async function () {
    if (!process.env.MARBLE_MODELS) this.skip();
    await apiWithRealGenerator();
  });
  afterEach(closeAll);

  it('is registered with its input schema', () => {
    const tool = vscode.lm.tools.find((t) => t.name === TOOL);
    assert.ok(tool, `${TOOL} is not in vscode.lm.tools`);
    const schema = tool.inputSchema as { required: string[]; properties: Record<string, unknown> };
    assert.deepEqual(schema.required, ['prompt']);
    assert.deepEqual(Object.keys(schema.properties), ['prompt', 'negativePrompt', 'width', 'height', 'seed', 'path']);
  });

  it('asks first: the confirmation names the prompt, size and where the PNG goes', async () => {
    const marble = await apiWithRealGenerator();
    const c = marble._test.imageToolConfirmation({ prompt: 'a paper crane on a desk', negativePrompt: 'blurry', width: 64, height: 96, seed: 7, path: 'docs/img/crane.png' });
    assert.equal(c.title, 'Generate an image with Marble?');
    assert.match(c.message, /\*\*Prompt:\*\* a paper crane on a desk/);
    assert.match(c.message, /\*\*Negative prompt:\*\* blurry/);
    assert.match(c.message, /\*\*Size:\*\* 64×96 · seed 7/);
    assert.match(c.message, /\*\*Saves to:\*\* `docs\/img\/crane\.png`/);
    assert.match(c.invocationMessage, /^Generating an image with Marble: a paper crane on a desk/);
    const d = marble._test.imageToolConfirmation({ prompt: 'x' });
    assert.match(d.message, /\*\*Saves to:\*\* `assets\/generated`/);
  });

  it('generates, saves at the requested .png path and returns the path and a Markdown reference', async () => {
    const result = await vscode.lm.invokeTool(TOOL, {
      toolInvocationToken: undefined,
      input: { prompt: 'a paper crane on a desk', negativePrompt: 'blurry', width: 64, height: 64, seed: 7, path: 'docs/img/crane.png' },
    });
    const text = textOf(result);
    assert.match(text, /^Saved the image to docs\/img\/crane\.png \(seed 7\)\./);
    assert.ok(text.includes('![a paper crane on a desk](docs/img/crane.png)'), text);
    const saved = vscode.Uri.joinPath(workspaceRoot(), 'docs', 'img', 'crane.png');
    const meta = readPngMetadata(await vscode.workspace.fs.readFile(saved));
    const prompt = JSON.parse(meta.prompt!) as ApiPrompt;
    const texts = Object.values(prompt).filter((n) => n.class_type === 'CLIPTextEncode').map((n) => n.inputs.text);
    assert.deepEqual(texts.sort(), ['a paper crane on a desk', 'blurry']);
    const sampler = Object.values(prompt).find((n) => n.class_type === 'KSampler')!;
    assert.equal(String(sampler.inputs.seed), '7');
    const latent = Object.values(prompt).find((n) => n.class_type === 'EmptyLatentImage')!;
    assert.deepEqual([latent.inputs.width, latent.inputs.height], [64, 64]);

    // The same call again never replaces the first image.
    const again = textOf(await vscode.lm.invokeTool(TOOL, { toolInvocationToken: undefined, input: { prompt: 'a paper crane on a desk', width: 64, height: 64, seed: 8, path: 'docs/img/crane.png' } }));
    assert.match(again, /^Saved the image to docs\/img\/crane_1\.png \(seed 8\)\./);
    assert.ok(await exists(saved));
  });

  it('a path outside the workspace is refused with the reason', async () => {
    const err = await Promise.resolve(vscode.lm.invokeTool(TOOL, { toolInvocationToken: undefined, input: { prompt: 'x', path: '../escape.png' } }))
      .then(() => undefined, (e: unknown) => e);
    assert.match(String(err), /path \.\.\/escape\.png is outside the workspace folder/);
    assert.equal(await exists(vscode.Uri.joinPath(workspaceRoot(), '..', 'escape.png')), false);
  });
});
