// The seed a run used, in Chromium under the shipped CSP: the host tells the page which values the
// run used for controlled widgets; the node shows them, and its menu's "Keep seed" writes one into
// the document as one edit (control set to fixed). Nothing is written unless the user asks.
import assert from 'node:assert/strict';
import { DEFAULT_GRAPH, readJson, screenshotPath, sendGraphInit, useWebviewPages } from './harness';

type Wf = { nodes: { id: number; widgets_values?: unknown[] }[] };

describe('graph editor: seeds used by a run (Chromium)', function () {
  this.timeout(30000);
  const webviews = useWebviewPages();

  it('shows the seed the last run used on the node; "Keep seed" writes it as one edit', async () => {
    const wv = await webviews.open('graph', { width: 1700, height: 820 });
    await sendGraphInit(wv, JSON.stringify(readJson(DEFAULT_GRAPH)));
    await wv.page.waitForFunction(() => (window as any).__marble?.editor.graph.nodes.length === 7);
    await wv.send({ type: 'controlledValues', values: [{ node: '3', widget: 'seed', value: 424242 }] });
    assert.equal(await wv.page.evaluate(() => (window as any).__marble.overlay.usedLabel('3')), 'last run: seed 424242');
    await wv.page.evaluate(() => (window as any).__marble.editor.canvas.draw(true, true));
    await wv.page.screenshot({ path: screenshotPath('graph-seed-used.png') });
    assert.equal((await wv.posted()).filter((m) => m.type === 'edit').length, 0, 'showing it writes nothing');

    // Right-click the KSampler's title → its menu starts with the Keep entry.
    const at = await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const n = editor.node(3);
      return editor.canvas.ds.convertOffsetToCanvas([n.pos[0] + 60, n.pos[1] - 15]);
    });
    const box = (await wv.page.locator('#graph-canvas').boundingBox())!;
    await wv.page.mouse.click(box.x + at[0], box.y + at[1], { button: 'right' });
    const entry = wv.page.locator('.litecontextmenu .litemenu-entry', { hasText: 'Keep seed 424242 (used by the last run)' });
    await entry.waitFor();
    await entry.click();
    const [edit] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    assert.deepEqual(edit.workflow.nodes.find((n) => n.id === 3)!.widgets_values, [424242, 'fixed', 20, 8, 'euler', 'normal', 1]);
    await wv.page.waitForTimeout(100);
    assert.equal((await wv.posted()).filter((m) => m.type === 'edit').length, 1, 'one edit');
  });
});
