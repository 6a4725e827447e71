import assert from 'node:assert/strict';
import { WEBVIEW_PROTOCOL_VERSION } from '../../src/protocol/webview';
import { DEFAULT_GRAPH, readJson, screenshotPath, sendGraphInit, solidPngDataUrl, useWebviewPages, type Webview } from './harness';

type Wf = { nodes: Node[]; links: unknown[]; extra?: Record<string, unknown>; [k: string]: unknown };
type Node = { id: number; type: string; pos: number[]; size: number[]; mode: number; widgets_values?: unknown[]; [k: string]: unknown };

/** Reads the live graph in the page: what the user sees, not what was sent. */
async function graphState(wv: Webview) {
  return wv.page.evaluate(() => {
    const { editor } = (window as any).__marble;
    const nodes = editor.graph.nodes.map((n: any) => ({
      id: n.id, type: n.type, title: n.title, mode: n.mode,
      widgets: (n.widgets ?? []).map((w: any) => [w.name, w.value]),
    }));
    return { nodes, links: editor.graph.links.size ?? Object.keys(editor.graph.links).length };
  });
}

describe('graph editor webview (Chromium, shipped CSP)', function () {
  this.timeout(30000);
  const webviews = useWebviewPages();
  let wv: Webview;
  const defaultText = JSON.stringify(readJson(DEFAULT_GRAPH), null, 2);

  it('says ready with the protocol version, then renders the default graph', async () => {
    wv = await webviews.open('graph', { width: 1700, height: 820 });
    const [ready] = await wv.posted();
    assert.deepEqual(ready, { type: 'ready', version: WEBVIEW_PROTOCOL_VERSION });
    await sendGraphInit(wv, defaultText);
    await wv.page.waitForFunction(() => (window as any).__marble?.editor.graph.nodes.length === 7);
    const s = await graphState(wv);
    assert.equal(s.links, 9);
    const byId = new Map<number, { widgets: unknown[] }>(s.nodes.map((n: any) => [n.id, n]));
    const titles = Object.fromEntries(s.nodes.map((n: any) => [n.id, n.title]));
    assert.deepEqual(titles, {
      3: 'KSampler', 4: 'Load Checkpoint', 5: 'Empty Latent Image', 6: 'CLIP Text Encode (Prompt)',
      7: 'CLIP Text Encode (Prompt)', 8: 'VAE Decode', 9: 'Save Image',
    });
    assert.deepEqual(byId.get(3)?.widgets, [
      ['seed', 156680208700286], ['control_after_generate', 'randomize'], ['steps', 20], ['cfg', 8],
      ['sampler_name', 'euler'], ['scheduler', 'normal'], ['denoise', 1],
    ]);
    assert.deepEqual(byId.get(5)?.widgets, [['width', 512], ['height', 512], ['batch_size', 1]]);
    assert.deepEqual(byId.get(6)?.widgets, [['text', 'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,']]);
    assert.deepEqual(byId.get(7)?.widgets, [['text', 'text, watermark']]);
    assert.deepEqual(byId.get(4)?.widgets, [['ckpt_name', 'v1-5-pruned-emaonly-fp16.safetensors']]);
    assert.deepEqual(byId.get(9)?.widgets, [['filename_prefix', 'ComfyUI']]);
    // Loading must not write to the document.
    assert.deepEqual((await wv.posted()).map((m) => m.type).filter((t) => t === 'edit'), []);
    await wv.page.screenshot({ path: screenshotPath('graph-default.png') });
  });

  async function openDefault(width = 1400) {
    wv = await webviews.open('graph', { width });
    await sendGraphInit(wv, defaultText);
    await wv.page.waitForFunction(() => (window as any).__marble?.editor.graph.nodes.length === 7);
  }
  const edits = async () => (await wv.posted()).filter((m) => m.type === 'edit') as unknown as { workflow: Wf; label: string }[];

  it('a widget edit posts exactly one edit that changes only that value', async () => {
    await openDefault();
    const before = await wv.page.evaluate(() => (window as any).__marble.editor.serialize());
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const node = editor.graph.getNodeById(3);
      node.widgets.find((w: any) => w.name === 'steps').setValue(30, { node, canvas: editor.canvas });
    });
    const [edit] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    await wv.page.waitForTimeout(100);
    assert.equal((await edits()).length, 1, 'exactly one edit');
    const ks = edit.workflow.nodes.find((n) => n.id === 3)!;
    assert.equal(ks.widgets_values![2], 30);
    const expected = structuredClone(before);
    expected.nodes.find((n: Node) => n.id === 3).widgets_values[2] = 30;
    assert.deepEqual(edit.workflow, expected);
    // Against the file: same links, positions, view, and only serialise's usual additions.
    const file = readJson<Wf>(DEFAULT_GRAPH);
    assert.deepEqual(edit.workflow.links, file.links);
    assert.deepEqual(edit.workflow.extra, file.extra, 'the viewport is not written into the document');
    assert.deepEqual(edit.workflow.nodes.map((n) => n.id), [3, 4, 5, 6, 7, 8, 9], 'sorted by id');
    for (const n of edit.workflow.nodes) {
      const f = file.nodes.find((x) => x.id === n.id)!;
      assert.deepEqual(n.pos, f.pos, `node ${n.id} pos`);
      if (n.id !== 9) assert.deepEqual(n.size, f.size, `node ${n.id} size`);
    }
    assert.deepEqual(ks.widgets_values, [156680208700286, 'randomize', 30, 8, 'euler', 'normal', 1]);
  });

  it('ignores the echo of its own edit and reloads on an external change, keeping the view', async () => {
    await openDefault();
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const node = editor.graph.getNodeById(3);
      node.widgets[2].setValue(30, { node, canvas: editor.canvas });
      (window as any).__node3 = node;
    });
    const [edit] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    // The host writes the edit with its own formatting and echoes the document back.
    await wv.send({ type: 'update', text: JSON.stringify(edit.workflow, null, 4) + '\n' });
    await wv.page.waitForTimeout(50);
    assert.equal(await wv.page.evaluate(() => (window as any).__marble.editor.graph.getNodeById(3) === (window as any).__node3), true, 'echo did not reconfigure');
    // An external change (undo, another editor) replaces the graph; the pan/zoom stays.
    await wv.page.evaluate(() => (window as any).__marble.editor.setView({ offset: [-120, 40], scale: 0.75 }));
    const external = structuredClone(edit.workflow);
    external.nodes.find((n) => n.id === 3)!.widgets_values![2] = 44;
    await wv.send({ type: 'update', text: JSON.stringify(external) });
    await wv.page.waitForFunction(() => (window as any).__marble.editor.graph.getNodeById(3).widgets[2].value === 44);
    const view = await wv.page.evaluate(() => (window as any).__marble.editor.view());
    assert.deepEqual(view, { offset: [-120, 40], scale: 0.75 });
    await wv.page.waitForTimeout(50);
    assert.equal((await edits()).length, 1, 'an update never produces an edit');
  });

  it('a graph cut off at the file\'s viewport is zoomed out to fit on first open, and nothing is written', async () => {
    await openDefault(900);
    const fit = await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const { offset, scale } = editor.canvas.ds;
      const c = editor.canvas.canvas as HTMLCanvasElement;
      const inside = editor.graph.nodes.every((n: any) => {
        const [x, y0] = n.pos;
        const [w, h0] = n.size;
        const y = y0 - 30;
        const h = h0 + 30;
        return (x + offset[0]) * scale >= 0 && (y + offset[1]) * scale >= 0
          && (x + w + offset[0]) * scale <= c.clientWidth && (y + h + offset[1]) * scale <= c.clientHeight;
      });
      return { scale, inside };
    });
    assert.ok(fit.scale < 1, `zoomed out (scale ${fit.scale})`);
    assert.equal(fit.inside, true, 'every node is on screen');
    await wv.page.waitForTimeout(50);
    assert.equal((await edits()).length, 0, 'fitting the view is not an edit');
  });

  it('dragging a node posts one edit on drop with the new position', async () => {
    // Wide enough for the whole graph at scale 1 (a clipped graph is zoomed to fit on open).
    await openDefault(1700);
    const box = (await wv.page.locator('#graph-canvas').boundingBox())!;
    // Empty Latent Image (id 5) at [473, 609]; its title bar is 30 px above pos, view at 0,0 scale 1.
    const x = box.x + 473 + 120;
    const y = box.y + 609 - 15;
    await wv.page.mouse.move(x, y);
    await wv.page.mouse.down();
    for (let i = 1; i <= 10; i++) await wv.page.mouse.move(x + i * 5, y - i * 3);
    assert.equal((await edits()).length, 0, 'nothing posted mid-drag');
    await wv.page.mouse.up();
    const [edit] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    await wv.page.waitForTimeout(100);
    assert.equal((await edits()).length, 1);
    // litegraph starts the drag after the first move, so the node follows from there.
    const [px, py] = edit.workflow.nodes.find((n) => n.id === 5)!.pos;
    assert.ok(px > 510 && px <= 523 && py >= 579 && py < 590, `moved to ${px},${py}`);
  });

  it('Ctrl+M mutes and Ctrl+B bypasses the selected node', async () => {
    await openDefault();
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      editor.canvas.selectNode(editor.graph.getNodeById(7));
    });
    await wv.page.locator('#graph-canvas').focus();
    await wv.page.keyboard.press('Control+m');
    const [muted] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    assert.equal(muted.workflow.nodes.find((n) => n.id === 7)!.mode, 2);
    await wv.page.keyboard.press('Control+b');
    const all = await wv.waitForPosted<{ workflow: Wf }>(2, 'edit');
    assert.equal(all[1].workflow.nodes.find((n) => n.id === 7)!.mode, 4);
    assert.deepEqual(all[1].workflow.nodes.filter((n) => n.id !== 7).map((n) => n.mode), [0, 0, 0, 0, 0, 0]);
  });

  it('zooming persists the view in webview state and writes nothing', async () => {
    // Wide enough for the whole graph at scale 1 (a clipped graph is zoomed to fit on open).
    await openDefault(1700);
    const box = (await wv.page.locator('#graph-canvas').boundingBox())!;
    await wv.page.mouse.move(box.x + 300, box.y + 300);
    await wv.page.mouse.wheel(0, -400);
    await wv.page.waitForFunction(() => (window as any).__getState()?.view?.scale > 1, undefined, { timeout: 2000 });
    const view = await wv.page.evaluate(() => (window as any).__marble.editor.view());
    assert.deepEqual(await wv.page.evaluate(() => (window as any).__getState().view), view);
    await wv.page.mouse.click(box.x + 5, box.y + box.height - 5);
    await wv.page.waitForTimeout(100);
    assert.equal((await edits()).length, 0);
  });

  it('shows a parse error view whose button posts reopenAsText, and recovers on a valid update', async () => {
    wv = await webviews.open('graph');
    await sendGraphInit(wv, '{\n  "nodes": [\n    {"id": 1,,}\n');
    await wv.page.locator('#error-view').waitFor({ state: 'visible' });
    const message = await wv.page.locator('#error-message').textContent();
    assert.match(message!, /Invalid JSON/);
    assert.match(message!, /line 3/);
    assert.equal(await wv.page.locator('#run').getAttribute('disabled'), '', 'Run is disabled without a graph');
    assert.equal(await wv.page.locator('#canvas-host').isVisible(), false);
    await wv.page.screenshot({ path: screenshotPath('graph-parse-error.png') });
    await wv.page.locator('#reopen').click();
    const [reopen] = await wv.waitForPosted(1, 'reopenAsText');
    assert.deepEqual(reopen, { type: 'reopenAsText' });
    // The host's own parse error (with position) replaces the message.
    await wv.send({ type: 'parseError', message: 'Unexpected token', line: 7, column: 2 });
    assert.equal(await wv.page.locator('#error-message').textContent(), 'Unexpected token (line 7, column 2)');
    await wv.send({ type: 'update', text: defaultText });
    await wv.page.locator('#canvas-host').waitFor({ state: 'visible' });
    assert.equal(await wv.page.evaluate(() => (window as any).__marble.editor.graph.nodes.length), 7);
    assert.equal(await wv.page.locator('#error-view').isVisible(), false);
  });

  it('keeps an unknown node type through an edit round trip', async () => {
    const wf = readJson<Wf>(DEFAULT_GRAPH);
    const custom = {
      id: 10, type: 'SuperCustomUpscaler', pos: [900, 560], size: [300, 120], flags: {}, order: 7, mode: 0,
      inputs: [{ name: 'image', type: 'IMAGE', link: null }], outputs: [{ name: 'IMAGE', type: 'IMAGE', links: null }],
      properties: { 'Node name for S&R': 'SuperCustomUpscaler', cnr_id: 'super-nodes' }, widgets_values: ['4x', 0.5, { nested: [1, 2] }],
    };
    wf.nodes.push(custom as never);
    wf.last_node_id = 10;
    wv = await webviews.open('graph');
    await sendGraphInit(wv, JSON.stringify(wf));
    await wv.page.waitForFunction(() => (window as any).__marble?.editor.graph.nodes.length === 8);
    assert.match(await wv.page.locator('#status').textContent() ?? '', /SuperCustomUpscaler/);
    await wv.page.screenshot({ path: screenshotPath('graph-unknown-node.png') });
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const node = editor.graph.getNodeById(5);
      node.widgets[0].setValue(768, { node, canvas: editor.canvas });
    });
    const [edit] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    assert.deepEqual(edit.workflow.nodes.find((n) => n.id === 10), custom);
    assert.deepEqual(edit.workflow.nodes.find((n) => n.id === 5)!.widgets_values, [768, 512, 1]);
  });

  it('draws execution state: running node, progress, output images, validation errors', async () => {
    await openDefault(1700);
    const red = solidPngDataUrl(220, 40, 40);
    await wv.page.locator('#run').click();
    const posted = await wv.waitForPosted(1, 'run');
    assert.deepEqual(posted[0], { type: 'run' });
    // "Control after generate" is applied once, by the host, after queueing: the page itself
    // must not move the seed (it would be applied twice per run).
    await wv.page.waitForTimeout(150);
    assert.equal((await wv.posted()).filter((m) => (m as { type: string }).type === 'edit').length, 0, 'no edit posted by Run');
    assert.equal(await wv.page.evaluate(() => (window as any).__marble.editor.node(3).widgets[0].value), 156680208700286);
    await wv.send({ type: 'status', state: 'running', message: 'Running' });
    await wv.send({ type: 'executing', node: '3' });
    await wv.send({ type: 'progress', node: '3', value: 12, max: 20 });
    await wv.send({ type: 'preview', node: '3', dataUrl: red });
    await wv.send({ type: 'executed', node: '9', images: [{ uri: red, filename: 'ComfyUI_00001_.png' }] });
    await wv.page.waitForFunction(() => (window as any).__marble.overlay.imageCount('9') === 1);
    assert.equal(await wv.page.locator('#status').textContent(), 'KSampler (#3): 12/20');
    assert.equal(await wv.page.evaluate(() => (window as any).__marble.overlay.runningNode), '3');
    assert.equal(await wv.page.locator('#interrupt').getAttribute('disabled'), null, 'Interrupt enabled while running');
    await wv.page.locator('#interrupt').click();
    await wv.waitForPosted(1, 'interrupt');
    await wv.page.waitForTimeout(100);
    await wv.page.screenshot({ path: screenshotPath('graph-running.png') });
    // The run ends: the sampler's latent preview goes, Save Image's output stays.
    assert.equal(await wv.page.evaluate(() => (window as any).__marble.overlay.imageCount('3')), 1, 'preview while running');
    await wv.send({ type: 'status', state: 'interrupted' });
    assert.deepEqual(await wv.page.evaluate(() => [(window as any).__marble.overlay.imageCount('3'), (window as any).__marble.overlay.imageCount('9')]), [0, 1]);
    await wv.send({
      type: 'error', message: 'Prompt outputs failed validation',
      nodeErrors: { 3: { class_type: 'KSampler', errors: [{ type: 'value_bigger_than_max', message: 'Value 20000 bigger than max of 10000', details: 'steps', extra_info: { input_name: 'steps' } }] } },
    });
    await wv.page.locator('#problems').waitFor({ state: 'visible' });
    // Said once: on the node, in the list; the status line only says the run failed.
    assert.deepEqual(await wv.page.locator('#problems li').allTextContents(), ['KSampler (#3) · steps: Value 20000 bigger than max of 10000']);
    assert.equal(await wv.page.locator('#status').textContent(), 'Failed: 1 problem (below)');
    assert.deepEqual(await wv.page.evaluate(() => (window as any).__marble.overlay.errorsFor('3')), [{ input: 'steps', message: 'Value 20000 bigger than max of 10000' }]);
    await wv.page.screenshot({ path: screenshotPath('graph-error.png') });
    // Clicking the problem brings its node into view and selects it.
    await wv.page.evaluate(() => (window as any).__marble.editor.setView({ offset: [-3000, -3000], scale: 1 }));
    await wv.page.locator('#problems .problem-link').click();
    const shown = await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const n = editor.node(3);
      const [x, y] = editor.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] / 2, n.pos[1] + n.size[1] / 2]);
      const c = editor.canvas.canvas as HTMLCanvasElement;
      return { selected: !!editor.canvas.selected_nodes[3], inside: x > 0 && y > 0 && x < c.clientWidth && y < c.clientHeight };
    });
    assert.deepEqual(shown, { selected: true, inside: true });
  });

  it('a prompt edits in place: typing then clicking away posts exactly one edit with the text', async () => {
    await openDefault();
    const textarea = wv.page.locator('textarea.marble-textarea[data-node="7"]');
    await textarea.waitFor();
    assert.equal(await textarea.inputValue(), 'text, watermark');
    // The textarea lies over the node's text box (node 7 at [413, 389], view at 0,0 scale 1 at 1400 px?
    // the view may be fitted, so compare with litegraph's own transform).
    const where = await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const node = editor.graph.getNodeById(7);
      const w = node.widgets[0];
      const [x, y] = editor.canvas.ds.convertOffsetToCanvas([node.pos[0] + 15, node.pos[1] + w.y]);
      const r = document.querySelector('textarea.marble-textarea[data-node="7"]')!.getBoundingClientRect();
      const c = editor.canvas.canvas.getBoundingClientRect();
      return { dx: r.left - c.left - x, dy: r.top - c.top - y };
    });
    assert.ok(Math.abs(where.dx) < 2 && Math.abs(where.dy) < 2, `textarea over the widget (off by ${where.dx}, ${where.dy})`);
    await textarea.click();
    await wv.page.keyboard.press('End');
    await wv.page.keyboard.type(', lowres');
    await wv.page.keyboard.press('Enter');
    await wv.page.keyboard.type('second line');
    await wv.page.waitForTimeout(150);
    assert.equal((await edits()).length, 0, 'nothing is written while typing');
    const drafts = (await wv.posted()).filter((m) => m.type === 'promptDraft');
    assert.ok(drafts.length >= 1, 'the draft is sent for its token count');
    assert.deepEqual(drafts.at(-1), { type: 'promptDraft', node: '7', text: 'text, watermark, lowres\nsecond line' });
    // The host answers with the draft's count; the footer shows it while typing.
    await wv.send({ type: 'tokenCounts', counts: { 7: { tokens: 7, chunks: 1 } }, merge: true });
    await wv.page.evaluate(() => (window as any).__marble.editor.canvas.draw(true, true));
    assert.equal(await wv.page.evaluate(() => (window as any).__marble.editor.node(7).widgets[0].drawnFooter), '7 tokens');
    // Click away on empty canvas: one edit with the text.
    const box = (await wv.page.locator('#graph-canvas').boundingBox())!;
    await wv.page.mouse.click(box.x + 5, box.y + box.height - 5);
    const [edit] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    await wv.page.waitForTimeout(100);
    assert.equal((await edits()).length, 1, 'exactly one edit');
    assert.deepEqual(edit.workflow.nodes.find((n) => n.id === 7)!.widgets_values, ['text, watermark, lowres\nsecond line']);
    assert.deepEqual(edit.workflow.nodes.find((n) => n.id === 6)!.widgets_values, ['beautiful scenery nature glass bottle landscape, , purple galaxy bottle,']);
    await wv.page.screenshot({ path: screenshotPath('graph-prompt-in-place.png') });
  });

  it('a prompt commits on Ctrl+Enter; Escape puts the committed text back; Delete stays in the text', async () => {
    await openDefault();
    const textarea = wv.page.locator('textarea.marble-textarea[data-node="6"]');
    await textarea.waitFor();
    await textarea.click();
    await wv.page.keyboard.press('Control+a');
    await wv.page.keyboard.type('a red fox');
    await wv.page.keyboard.press('Control+Enter');
    const [first] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    assert.deepEqual(first.workflow.nodes.find((n) => n.id === 6)!.widgets_values, ['a red fox']);
    assert.equal(await wv.page.evaluate(() => document.activeElement?.localName), 'textarea', 'focus stays after Ctrl+Enter');
    // Delete and Backspace edit the text; they never delete the selected node.
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      editor.canvas.selectNode(editor.graph.getNodeById(6));
    });
    await textarea.focus();
    await wv.page.keyboard.press('Backspace');
    await wv.page.keyboard.type(' in snow');
    await wv.page.keyboard.press('Escape');
    assert.equal(await textarea.inputValue(), 'a red fox', 'Escape restores the committed text');
    assert.notEqual(await wv.page.evaluate(() => document.activeElement?.localName), 'textarea');
    await wv.page.waitForTimeout(150);
    assert.equal((await edits()).length, 1, 'Escape and blur after it write nothing');
    assert.equal(await wv.page.evaluate(() => (window as any).__marble.editor.graph.nodes.length), 7, 'no node deleted');
    // An undo from the host (document update) shows in the idle textarea.
    const undone = structuredClone(first.workflow);
    undone.nodes.find((n) => n.id === 6)!.widgets_values = ['back again'];
    await wv.send({ type: 'update', text: JSON.stringify(undone) });
    await wv.page.waitForFunction(() => (document.querySelector('textarea.marble-textarea[data-node="6"]') as HTMLTextAreaElement | null)?.value === 'back again');
  });

  it('delete, paste and the search box each post one edit', async () => {
    await openDefault();
    const canvas = wv.page.locator('#graph-canvas');
    const box = (await canvas.boundingBox())!;
    // Select Save Image (id 9 at [1451,189] is off-screen at 1400 px: select it by API) and delete.
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      editor.canvas.selectNode(editor.graph.getNodeById(9));
    });
    await canvas.focus();
    await wv.page.keyboard.press('Delete');
    const [del] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    assert.deepEqual(del.workflow.nodes.map((n) => n.id), [3, 4, 5, 6, 7, 8]);
    assert.equal(del.workflow.links.length, 8, 'its link went with it');
    // Copy Empty Latent Image and paste it at the mouse.
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      editor.canvas.selectNode(editor.graph.getNodeById(5), false);
    });
    await wv.page.mouse.move(box.x + 100, box.y + 150);
    await wv.page.keyboard.press('Control+c');
    await wv.page.keyboard.press('Control+v');
    const afterPaste = await wv.waitForPosted<{ workflow: Wf }>(2, 'edit');
    const pasted = afterPaste[1].workflow.nodes.filter((n) => n.type === 'EmptyLatentImage');
    assert.equal(pasted.length, 2);
    assert.deepEqual(pasted[1].widgets_values, [512, 512, 1]);
    // Double-click empty canvas → litegraph's search box → add a VAE Loader.
    await wv.page.mouse.move(box.x + 1250, box.y + 600);
    await wv.page.mouse.dblclick(box.x + 1250, box.y + 600, { delay: 20 });
    const search = wv.page.locator('.litesearchbox input');
    await search.waitFor({ timeout: 5000 });
    await search.focus();
    // litegraph filters on key events, so type rather than fill.
    await wv.page.keyboard.type('VAELoader');
    // The unfiltered list already holds VAELoader: wait until the filter has run.
    await wv.page.waitForFunction(() => {
      const items = document.querySelectorAll('.litesearchbox .lite-search-item');
      return items.length === 1 && (items[0] as HTMLElement).dataset.type === 'VAELoader';
    }, undefined, { timeout: 5000 });
    await wv.page.keyboard.press('Enter');
    const afterAdd = await wv.waitForPosted<{ workflow: Wf }>(3, 'edit');
    assert.equal(afterAdd.length, 3);
    const added = afterAdd[2].workflow.nodes.filter((n) => n.type === 'VAELoader');
    assert.equal(added.length, 1);
    assert.deepEqual(added[0].widgets_values, ['']);
  });
});
