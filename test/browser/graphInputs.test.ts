// The graph page's prompt token counts and LoadImage upload button, in Chromium under the shipped
// CSP: what the host sends is what is drawn, and the button speaks to the host only.
import assert from 'node:assert/strict';
import { DEFAULT_GRAPH, readJson, screenshotPath, sendGraphInit, useWebviewPages, type Webview } from './harness';

/** Footers the prompt widgets drew in their last frame, by node id. */
async function drawnFooters(wv: Webview): Promise<Record<string, string | null>> {
  return wv.page.evaluate(() => {
    const { editor } = (window as any).__marble;
    const out: Record<string, string | null> = {};
    for (const n of editor.graph.nodes) {
      const w = (n.widgets ?? []).find((x: any) => x.name === 'text');
      if (w) out[String(n.id)] = w.drawnFooter ?? null;
    }
    return out;
  });
}

const redraw = (wv: Webview) => wv.page.evaluate(() => new Promise<void>((resolve) => {
  const { editor } = (window as any).__marble;
  editor.canvas.draw(true, true);
  requestAnimationFrame(() => resolve());
}));

function loadImageWorkflow() {
  return {
    last_node_id: 10, last_link_id: 0, links: [], groups: [], config: {}, extra: {}, version: 0.4,
    nodes: [{
      id: 10, type: 'LoadImage', pos: [100, 100], size: [320, 120], flags: {}, order: 0, mode: 0,
      inputs: [], outputs: [{ name: 'IMAGE', type: 'IMAGE', links: null }, { name: 'MASK', type: 'MASK', links: null }],
      properties: {}, widgets_values: ['a.png', 'image'],
    }],
  };
}

describe('graph editor: token counts and the upload button (Chromium)', function () {
  this.timeout(30000);
  const webviews = useWebviewPages();

  it('draws the token count it is sent under each prompt, with chunks past 75 tokens', async () => {
    const wv = await webviews.open('graph', { width: 1700, height: 820 });
    await sendGraphInit(wv, JSON.stringify(readJson(DEFAULT_GRAPH)));
    await wv.page.waitForFunction(() => (window as any).__marble?.editor.graph.nodes.length === 7);
    await redraw(wv);
    assert.deepEqual(await drawnFooters(wv), { 6: null, 7: null }, 'nothing drawn before the host counted');

    await wv.send({ type: 'tokenCounts', counts: { 6: { tokens: 12, chunks: 1 }, 7: { tokens: 80, chunks: 2 } } });
    await redraw(wv);
    assert.deepEqual(await drawnFooters(wv), { 6: '12 tokens', 7: '80 tokens · 2 chunks' });
    await wv.page.screenshot({ path: screenshotPath('graph-token-counts.png') });

    // New counts replace the old ones; a node left out shows none.
    await wv.send({ type: 'tokenCounts', counts: { 7: { tokens: 1, chunks: 1 } } });
    await redraw(wv);
    assert.deepEqual(await drawnFooters(wv), { 6: null, 7: '1 token' });
    assert.deepEqual((await wv.posted()).filter((m) => m.type === 'edit'), [], 'counts never edit the document');
  });

  it('the upload button posts an upload request; new combo values reach the node without an edit', async () => {
    const wv = await webviews.open('graph', { width: 900, height: 600 });
    await sendGraphInit(wv, JSON.stringify(loadImageWorkflow()));
    await wv.page.waitForFunction(() => (window as any).__marble?.editor.graph.nodes.length === 1);
    await redraw(wv);
    // A real click on the button, found where litegraph laid it out.
    const at = await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const node = editor.graph.getNodeById(10);
      const button = node.widgets.find((w: any) => w.type === 'button');
      const [x, y] = editor.canvas.ds.convertOffsetToCanvas([node.pos[0] + node.size[0] / 2, node.pos[1] + button.y + 10]);
      return { x, y, name: button.name, value: button.value };
    });
    assert.deepEqual([at.name, at.value], ['upload', 'image']);
    const box = (await wv.page.locator('#graph-canvas').boundingBox())!;
    await wv.page.mouse.click(box.x + at.x, box.y + at.y);
    const [upload] = await wv.waitForPosted(1, 'upload');
    assert.deepEqual(upload, { type: 'upload', node: '10', widget: 'image' });

    await wv.send({ type: 'comboValues', classType: 'LoadImage', input: 'image', values: ['a.png', 'b.png'] });
    const state = await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const image = editor.graph.getNodeById(10).widgets.find((w: any) => w.name === 'image');
      return { values: image.options.values, value: image.value };
    });
    assert.deepEqual(state.values, ['a.png', 'b.png']);
    assert.equal(state.value, 'a.png', 'the chosen image is unchanged');
    await wv.page.waitForTimeout(50);
    assert.deepEqual((await wv.posted()).filter((m) => m.type === 'edit'), [], 'a new option list is no edit');
  });
});
