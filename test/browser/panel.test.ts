import assert from 'node:assert/strict';
import { WEBVIEW_PROTOCOL_VERSION, type GalleryItem, type GenerateParams, type PanelInit } from '../../src/protocol/webview';
import { screenshotPath, solidPngDataUrl, useWebviewPages, type Webview } from './harness';

// Solid-colour 8×8 PNGs so the gallery shows real decoded images.
const PNG_BLUE = solidPngDataUrl(30, 90, 220);
const PNG_GREEN = solidPngDataUrl(40, 170, 80);

const DEFAULTS: GenerateParams = {
  prompt: 'a marble statue in a garden', negative: 'blurry', model: 'sd15-onnx', width: 512, height: 512,
  steps: 20, cfg: 7.5, sampler: 'euler', scheduler: 'normal', seed: 42, seedMode: 'randomize', batch: 1,
};

const gallery: GalleryItem[] = [
  { path: '/ws/out/marble_00002_.png', uri: PNG_BLUE, filename: 'marble_00002_.png', prompt: 'blue', seed: 7, width: 512, height: 512 },
  { path: '/ws/out/marble_00001_.png', uri: PNG_GREEN, filename: 'marble_00001_.png', prompt: 'green', seed: 6, width: 512, height: 768 },
];

function initMessage(over: Partial<PanelInit> = {}): PanelInit {
  return {
    type: 'init', version: WEBVIEW_PROTOCOL_VERSION,
    models: ['sd15-onnx', 'sd-turbo-onnx'], samplers: ['euler', 'euler_ancestral', 'dpmpp_2m', 'lcm'],
    schedulers: ['normal', 'karras', 'simple'], defaults: DEFAULTS, gallery, ...over,
  };
}

/** Picks an option of a vscode-single-select the way a user does: open it, click the entry. */
async function choose(wv: Webview, id: string, value: string) {
  await wv.page.locator(`#${id}`).click();
  await wv.page.locator(`#${id}`).getByRole('option', { name: value, exact: true }).click();
}

describe('generation panel webview (Chromium, shipped CSP)', function () {
  this.timeout(30000);
  const webviews = useWebviewPages();

  it('fills the form from init and posts generate with the values typed', async () => {
    const wv = await webviews.open('panel', { width: 420, height: 900 });
    assert.deepEqual((await wv.posted())[0], { type: 'ready', version: WEBVIEW_PROTOCOL_VERSION });
    await wv.send(initMessage());
    await wv.page.locator('.gallery-item').nth(1).waitFor();
    assert.equal(await wv.page.locator('#prompt').evaluate((el: any) => el.value), DEFAULTS.prompt);
    assert.equal(await wv.page.locator('#steps').evaluate((el: any) => el.value), '20');

    await wv.page.locator('#prompt textarea').fill('a lighthouse at dusk, oil painting');
    await wv.page.locator('#negative textarea').fill('text, watermark');
    await wv.page.locator('#steps input').fill('28');
    await wv.page.locator('#cfg input').fill('6.5');
    await wv.page.locator('#width input').fill('640');
    await wv.page.locator('#seed input').fill('123456789');
    await wv.page.locator('#batch input').fill('2');
    await choose(wv, 'model', 'sd-turbo-onnx');
    await choose(wv, 'sampler', 'dpmpp_2m');
    await choose(wv, 'scheduler', 'karras');
    await choose(wv, 'seedMode', 'increment');
    await wv.page.screenshot({ path: screenshotPath('panel.png'), fullPage: true });
    await wv.page.locator('#generate').click();
    const [gen] = await wv.waitForPosted(1, 'generate');
    assert.deepEqual(gen, {
      type: 'generate', prompt: 'a lighthouse at dusk, oil painting', negative: 'text, watermark', model: 'sd-turbo-onnx',
      width: 640, height: 512, steps: 28, cfg: 6.5, sampler: 'dpmpp_2m', scheduler: 'karras', seed: 123456789,
      seedMode: 'increment', batch: 2,
    });
    assert.equal(await wv.page.locator('#status').textContent(), 'Queued…');
    // The form is persisted for a restored panel.
    const state = await wv.page.evaluate(() => (window as any).__getState());
    assert.equal(state.params.prompt, 'a lighthouse at dusk, oil painting');
    assert.equal(state.params.steps, 28);
  });

  it('refuses to post an invalid form and names the field', async () => {
    const wv = await webviews.open('panel');
    await wv.send(initMessage());
    await wv.page.locator('.gallery-item').first().waitFor();
    await wv.page.locator('#steps input').fill('0');
    await wv.page.locator('#generate').click();
    await wv.page.waitForTimeout(100);
    assert.equal((await wv.posted()).filter((m) => m.type === 'generate').length, 0);
    assert.match(await wv.page.locator('#status').textContent() ?? '', /steps.*\[1, 10000\]/);
    assert.equal(await wv.page.locator('#steps').evaluate((el: any) => el.invalid), true);
  });

  it('gallery buttons post galleryAction with the item path', async () => {
    const wv = await webviews.open('panel');
    await wv.send(initMessage());
    const second = wv.page.locator('.gallery-item').nth(1);
    await second.locator('[data-action="copyPath"]').click();
    await second.locator('[data-action="openAsWorkflow"]').click();
    await wv.page.locator('.gallery-item').first().locator('[data-action="insert"]').click();
    const actions = await wv.waitForPosted(3, 'galleryAction');
    assert.deepEqual(actions, [
      { type: 'galleryAction', action: 'copyPath', path: '/ws/out/marble_00001_.png' },
      { type: 'galleryAction', action: 'openAsWorkflow', path: '/ws/out/marble_00001_.png' },
      { type: 'galleryAction', action: 'insert', path: '/ws/out/marble_00002_.png' },
    ]);
  });

  it('shows progress, preview and results; a result moves the seed and heads the gallery', async () => {
    const wv = await webviews.open('panel', { width: 420, height: 900 });
    await wv.send(initMessage({ gallery: [] }));
    await wv.page.locator('.empty').waitFor();
    await wv.send({ type: 'status', state: 'running', message: 'Sampling' });
    await wv.send({ type: 'progress', value: 5, max: 20 });
    await wv.send({ type: 'preview', dataUrl: PNG_BLUE });
    assert.equal(await wv.page.locator('#status').textContent(), 'Step 5/20');
    assert.equal(await wv.page.locator('#interrupt').getAttribute('disabled'), null);
    assert.equal(await wv.page.locator('#generate').getAttribute('disabled'), '');
    await wv.page.locator('#interrupt').click();
    await wv.waitForPosted(1, 'interrupt');
    await wv.send({ type: 'result', images: [gallery[1]], nextSeed: 43 });
    await wv.page.locator('.gallery-item').first().waitFor();
    assert.equal(await wv.page.locator('#seed').evaluate((el: any) => el.value), '43');
    assert.equal(await wv.page.locator('.gallery-item').count(), 1);
    assert.equal(await wv.page.locator('.gallery-item').first().getAttribute('data-path'), '/ws/out/marble_00001_.png');
    assert.equal(await wv.page.locator('#preview').getAttribute('src'), PNG_GREEN);
    assert.equal(await wv.page.locator('#generate').getAttribute('disabled'), null, 'Generate enabled again');
    await wv.page.screenshot({ path: screenshotPath('panel-result.png'), fullPage: true });
  });

  it('restores the typed form from webview state over the host defaults', async () => {
    const saved = { params: { ...DEFAULTS, prompt: 'restored prompt', sampler: 'lcm', steps: 4 } };
    const wv = await webviews.open('panel', { state: saved });
    await wv.send(initMessage());
    await wv.page.locator('.gallery-item').first().waitFor();
    assert.equal(await wv.page.locator('#prompt').evaluate((el: any) => el.value), 'restored prompt');
    assert.equal(await wv.page.locator('#sampler').evaluate((el: any) => el.value), 'lcm');
    await wv.page.locator('#generate').click();
    const [gen] = await wv.waitForPosted<GenerateParams>(1, 'generate');
    assert.equal(gen.steps, 4);
    assert.equal(gen.sampler, 'lcm');
  });
});
