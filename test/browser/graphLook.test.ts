// How the graph reads, in Chromium under the shipped CSP, in a dark and a light theme: links and
// slots in ComfyUI's colours by type, the first view fits the whole graph, litegraph's menus and
// search take VS Code's colours, and the search marks nodes Marble cannot run. Screenshots of
// each land in test-results/screenshots for a person to look at.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPngMetadata } from '../../src/workflow/png';
import { DEFAULT_GRAPH, FIXTURES, readJson, screenshotPath, sendGraphInit, useWebviewPages, type TestTheme, type Webview } from './harness';

/** The colour litegraph stroked each link with in one full redraw, by link type. */
async function drawnLinkColours(wv: Webview): Promise<Record<string, string>> {
  return wv.page.evaluate(() => {
    const { editor } = (window as any).__marble;
    const canvas = editor.canvas;
    const seen: Record<string, string> = {};
    const original = canvas.renderLink;
    canvas.renderLink = function (ctx: CanvasRenderingContext2D, ...rest: any[]) {
      const r = original.call(this, ctx, ...rest);
      const link = rest[2];
      if (link?.type) seen[link.type] = String(ctx.strokeStyle);
      return r;
    };
    try { canvas.draw(true, true); } finally { canvas.renderLink = original; }
    return seen;
  });
}

/** Nodes (with title bars) outside the canvas, with `margin` px to spare. */
async function nodesOutside(wv: Webview, margin: number): Promise<string[]> {
  return wv.page.evaluate((m) => {
    const { editor } = (window as any).__marble;
    const c = editor.canvas.canvas as HTMLCanvasElement;
    const title = 30;
    return editor.graph.nodes.filter((n: any) => {
      const [x0, y0] = editor.canvas.ds.convertOffsetToCanvas([n.pos[0], n.pos[1] - title]);
      const [x1, y1] = editor.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0], n.pos[1] + n.size[1]]);
      return x0 < m || y0 < m || x1 > c.clientWidth - m || y1 > c.clientHeight - m;
    }).map((n: any) => `${n.id} ${n.type}`);
  }, margin);
}

function sdxlExample(): string {
  return readPngMetadata(readFileSync(join(FIXTURES, 'comfyui/examples/sdxl_simple_example.png'))).workflow!;
}

describe('graph editor: how the graph reads (Chromium, dark and light)', function () {
  this.timeout(30000);
  const webviews = useWebviewPages();
  const defaultText = JSON.stringify(readJson(DEFAULT_GRAPH));

  async function open(theme: TestTheme, text = defaultText, width = 1400, height = 900) {
    const wv = await webviews.open('graph', { width, height, theme });
    await sendGraphInit(wv, text);
    await wv.page.waitForFunction(() => (window as any).__marble?.editor.graph.nodes.length > 0);
    return wv;
  }

  for (const theme of ['dark', 'light'] as const) {
    it(`${theme}: links take ComfyUI's ${theme} colour of their type`, async () => {
      const wv = await open(theme);
      const expected = theme === 'dark'
        ? { MODEL: '#B39DDB', CLIP: '#FFD500', CONDITIONING: '#FFA931', LATENT: '#FF9CF9', VAE: '#FF6E6E', IMAGE: '#64B5F6' }
        : { MODEL: '#7E57C2', CLIP: '#FFA726', CONDITIONING: '#EF5350', LATENT: '#AB47BC', VAE: '#FF7043', IMAGE: '#42A5F5' };
      const seen = await drawnLinkColours(wv);
      for (const [type, colour] of Object.entries(expected)) assert.equal(seen[type], colour.toLowerCase(), `${type} link colour`);
      await wv.page.screenshot({ path: screenshotPath(`graph-default-${theme}.png`) });
    });
  }

  it('the first view fits the whole graph with margins at 1400×900 (default graph and the SDXL example)', async () => {
    const wv = await open('dark');
    assert.deepEqual(await nodesOutside(wv, 8), []);
    const sdxl = await open('light', sdxlExample());
    assert.deepEqual(await nodesOutside(sdxl, 8), []);
    const scale = await sdxl.page.evaluate(() => (window as any).__marble.editor.canvas.ds.scale);
    const threshold = await sdxl.page.evaluate(() => (window as any).__marble.editor.canvas.low_quality_zoom_threshold);
    assert.ok(scale >= threshold, `the SDXL example fits at a scale that still draws titles (${scale} ≥ ${threshold})`);
    await sdxl.page.screenshot({ path: screenshotPath('graph-sdxl-light.png') });
    // ComfyUI's dark node colours (#223) are drawn lifted on a light theme; the file keeps them.
    const colour = await sdxl.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const n = editor.node(10);
      return { drawn: n.renderingColor, saved: editor.serialize().nodes.find((x: any) => x.id === 10).color };
    });
    assert.deepEqual(colour, { drawn: '#9c9ca3', saved: '#223' });
    assert.equal((await wv.posted()).filter((m) => m.type === 'edit').length, 0, 'fitting writes nothing');
  });

  for (const theme of ['dark', 'light'] as const) {
    it(`${theme}: context menu and node search use VS Code's colours; the search marks nodes Marble cannot run`, async () => {
      const wv = await open(theme);
      const box = (await wv.page.locator('#graph-canvas').boundingBox())!;
      await wv.page.mouse.click(box.x + 60, box.y + box.height - 60, { button: 'right' });
      const menu = wv.page.locator('.litecontextmenu').first();
      await menu.waitFor();
      const menuBg = await menu.evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.equal(menuBg, theme === 'dark' ? 'rgb(31, 31, 31)' : 'rgb(255, 255, 255)', 'menu background = --vscode-menu-background');
      await wv.page.screenshot({ path: screenshotPath(`graph-menu-${theme}.png`) });
      await wv.page.keyboard.press('Escape');
      await wv.page.mouse.click(box.x + 40, box.y + 40);
      // litegraph times its own double click: on a busy machine one may read as two clicks.
      const search = wv.page.locator('.litesearchbox input');
      for (let attempt = 0; attempt < 3 && !(await search.isVisible()); attempt++) {
        await wv.page.mouse.dblclick(box.x + 700, box.y + 820, { delay: 20 });
        await search.waitFor({ timeout: 2000 }).catch(() => undefined);
      }
      await search.waitFor({ timeout: 2000 });
      await search.focus();
      await wv.page.keyboard.type('ControlNetApply');
      await wv.page.waitForFunction(() => document.querySelectorAll('.litesearchbox .lite-search-item').length === 2);
      const items = await wv.page.evaluate(() => [...document.querySelectorAll('.litesearchbox .lite-search-item')].map((el) => ({
        type: (el as HTMLElement).dataset.type, marked: el.classList.contains('marble-unsupported'),
        reason: el.querySelector('.marble-unsupported-reason')?.textContent,
      })));
      assert.deepEqual(items, [
        { type: 'ControlNetApply', marked: true, reason: 'ControlNet: not yet' },
        { type: 'ControlNetApplyAdvanced', marked: true, reason: 'ControlNet: not yet' },
      ]);
      const boxBg = await wv.page.locator('.litesearchbox').evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.equal(boxBg, theme === 'dark' ? 'rgb(34, 34, 34)' : 'rgb(248, 248, 248)', 'search background = --vscode-quickInput-background');
      await wv.page.screenshot({ path: screenshotPath(`graph-search-${theme}.png`) });
      // A runnable node is not marked.
      await wv.page.keyboard.press('Control+a');
      await wv.page.keyboard.type('KSamplerAdv');
      await wv.page.waitForFunction(() => (document.querySelector('.litesearchbox .lite-search-item') as HTMLElement | null)?.dataset.type === 'KSamplerAdvanced');
      assert.equal(await wv.page.locator('.litesearchbox .lite-search-item.marble-unsupported').count(), 0);
    });
  }

  it('the number prompt (click a number widget\'s value) uses VS Code\'s widget colours', async () => {
    const wv = await open('light');
    const at = await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const n = editor.node(3);
      const w = n.widgets.find((x: any) => x.name === 'steps');
      return editor.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] / 2, n.pos[1] + w.y + 10]);
    });
    const box = (await wv.page.locator('#graph-canvas').boundingBox())!;
    await wv.page.mouse.click(box.x + at[0], box.y + at[1]);
    const dialog = wv.page.locator('.graphdialog');
    await dialog.waitFor();
    assert.equal(await dialog.evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(248, 248, 248)', '--vscode-editorWidget-background');
    await wv.page.screenshot({ path: screenshotPath('graph-number-prompt-light.png') });
    await wv.page.keyboard.press('Escape');
  });
});
