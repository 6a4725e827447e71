// Files that are not (yet) a drawn workflow, in Chromium under the shipped CSP: an empty
// .workflow.json is a blank canvas, an API-format prompt offers "Convert to Workflow".
import assert from 'node:assert/strict';
import { screenshotPath, sendGraphInit, useWebviewPages } from './harness';

describe('graph editor: empty files and API-format prompts (Chromium)', function () {
  this.timeout(30000);
  const webviews = useWebviewPages();

  it('an empty file opens as a blank canvas; adding a node writes the whole workflow as one edit', async () => {
    const wv = await webviews.open('graph', { width: 900, height: 600 });
    await sendGraphInit(wv, '');
    await wv.page.waitForFunction(() => (window as any).__marble?.editor);
    assert.equal(await wv.page.locator('#error-view').isVisible(), false);
    assert.equal(await wv.page.locator('#canvas-host').isVisible(), true);
    assert.equal(await wv.page.locator('#run').getAttribute('disabled'), null);
    assert.equal((await wv.posted()).filter((m) => m.type === 'edit').length, 0, 'opening writes nothing');
    // Add a node through the search box, as a user would.
    const box = (await wv.page.locator('#graph-canvas').boundingBox())!;
    const search = wv.page.locator('.litesearchbox input');
    for (let attempt = 0; attempt < 3 && !(await search.isVisible()); attempt++) {
      await wv.page.mouse.dblclick(box.x + 300, box.y + 300, { delay: 20 });
      await search.waitFor({ timeout: 2000 }).catch(() => undefined);
    }
    await search.focus();
    await wv.page.keyboard.type('EmptyLatentImage');
    await wv.page.waitForFunction(() => (document.querySelector('.litesearchbox .lite-search-item') as HTMLElement | null)?.dataset.type === 'EmptyLatentImage');
    await wv.page.keyboard.press('Enter');
    const [edit] = await wv.waitForPosted<{ workflow: { nodes: { type: string; widgets_values: unknown[] }[]; links: unknown[] } }>(1, 'edit');
    assert.deepEqual(edit.workflow.nodes.map((n) => [n.type, n.widgets_values]), [['EmptyLatentImage', [512, 512, 1]]]);
    assert.deepEqual(edit.workflow.links, []);
  });

  it('an API-format prompt shows why it is not drawn and offers Convert to Workflow', async () => {
    const wv = await webviews.open('graph', { width: 900, height: 600 });
    await sendGraphInit(wv, JSON.stringify({ 5: { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } } }));
    await wv.page.locator('#error-view').waitFor({ state: 'visible' });
    assert.match(await wv.page.locator('#error-message').textContent() ?? '', /API-format prompt/);
    await wv.page.locator('#convert').waitFor({ state: 'visible' });
    assert.equal(await wv.page.locator('#run').getAttribute('disabled'), null, 'an API prompt still runs as it is');
    await wv.page.locator('#run').click();
    await wv.waitForPosted(1, 'run');
    await wv.page.screenshot({ path: screenshotPath('graph-api-format.png') });
    await wv.page.locator('#convert').click();
    const [msg] = await wv.waitForPosted(1, 'convertToWorkflow');
    assert.deepEqual(msg, { type: 'convertToWorkflow' });
    // Invalid JSON offers no conversion.
    await wv.send({ type: 'update', text: '{"nodes": [' });
    await wv.page.waitForFunction(() => (document.querySelector('#convert') as HTMLElement).hidden);
    assert.equal(await wv.page.locator('#run').getAttribute('disabled'), '', 'invalid JSON cannot run');
  });
});
