// ComfyUI's frontend-only nodes (Note, MarkdownNote, PrimitiveNode, Reroute) in the graph editor,
// in Chromium under the shipped CSP: drawn as ComfyUI draws them (not as unknown red boxes),
// editable, and written back as ComfyUI writes them. The SDXL example keeps its prompts and step
// counts in PrimitiveNodes and explains itself in Notes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPngMetadata } from '../../src/workflow/png';
import { DEFAULT_GRAPH, FIXTURES, readJson, screenshotPath, sendGraphInit, useWebviewPages, type Webview } from './harness';

type Slot = { name: string; type: string; link?: number | null; links?: number[] | null };
type Node = { id: number; type: string; title?: string; widgets_values?: unknown[]; properties?: unknown; color?: string; bgcolor?: string; mode: number; inputs?: Slot[]; outputs?: Slot[]; size: unknown; pos: unknown };
type Wf = { nodes: Node[]; links: unknown[]; [k: string]: unknown };

function sdxlExample(): Wf {
  const meta = readPngMetadata(readFileSync(join(FIXTURES, 'comfyui/examples/sdxl_simple_example.png')));
  return JSON.parse(meta.workflow!) as Wf;
}

/** What must survive a load → edit → serialise round trip, per node. */
function essentials(n: Node) {
  return {
    id: n.id, type: n.type, title: n.title, mode: n.mode, widgets_values: n.widgets_values, properties: n.properties,
    color: n.color, bgcolor: n.bgcolor,
    inputs: (n.inputs ?? []).map((s) => [s.name, s.type, s.link ?? null]),
    outputs: (n.outputs ?? []).map((s) => [s.name, s.type, s.links ?? null]),
  };
}

async function widgetsOf(wv: Webview, id: number): Promise<[string, unknown][]> {
  return wv.page.evaluate((nid) => (window as any).__marble.editor.node(nid).widgets.map((w: any) => [w.name, w.value]), id);
}

describe('graph editor: Note, Primitive and Reroute nodes (Chromium)', function () {
  this.timeout(30000);
  const webviews = useWebviewPages();

  it('renders the SDXL example: no unknown types, Primitives show the widget they feed, Notes their text', async () => {
    const wf = sdxlExample();
    const wv = await webviews.open('graph', { width: 1400, height: 900 });
    await sendGraphInit(wv, JSON.stringify(wf));
    await wv.page.waitForFunction((n) => (window as any).__marble?.editor.graph.nodes.length === n, wf.nodes.length);
    assert.doesNotMatch(await wv.page.locator('#status').textContent() ?? '', /unknown/i);
    // litegraph flags nodes of unregistered types (drawn as red boxes).
    const flagged = await wv.page.evaluate(() => (window as any).__marble.editor.graph.nodes.filter((n: any) => n.has_errors).map((n: any) => n.type));
    assert.deepEqual(flagged, []);
    // The positive prompt's Primitive: a multiline text widget with the prompt, editable in place.
    assert.deepEqual(await widgetsOf(wv, 13), [['text', 'evening sunset scenery blue sky nature, glass bottle with a galaxy in it']]);
    assert.deepEqual(await widgetsOf(wv, 47), [['end_at_step', 20], ['control_after_generate', 'fixed']]);
    assert.deepEqual(await widgetsOf(wv, 45), [['steps', 25], ['control_after_generate', 'fixed']]);
    const note = wf.nodes.find((n) => n.id === 36)!;
    assert.deepEqual(await widgetsOf(wv, 36), [['text', note.widgets_values![0]]]);
    const titles = await wv.page.evaluate(() => Object.fromEntries((window as any).__marble.editor.graph.nodes.map((n: any) => [n.id, n.title])));
    assert.equal(titles[36], 'Note - Load Checkpoint BASE');
    assert.equal(titles[47], 'end_at_step');
    await wv.page.evaluate(() => (window as any).__marble.editor.canvas.draw(true, true));
    await wv.page.screenshot({ path: screenshotPath('graph-sdxl-example.png') });
    assert.equal((await wv.posted()).filter((m) => m.type === 'edit').length, 0, 'loading writes nothing');
  });

  it('round-trips the SDXL example, and a Primitive edit reaches the widgets it feeds', async () => {
    const wf = sdxlExample();
    const wv = await webviews.open('graph', { width: 1400, height: 900 });
    await sendGraphInit(wv, JSON.stringify(wf));
    await wv.page.waitForFunction((n) => (window as any).__marble?.editor.graph.nodes.length === n, wf.nodes.length);
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const node = editor.node(5);
      node.widgets[0].setValue(896, { node, canvas: editor.canvas });
    });
    const [edit] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    const byId = new Map(edit.workflow.nodes.map((n) => [n.id, n]));
    for (const n of wf.nodes) {
      const expected = essentials(n);
      if (n.id === 5) expected.widgets_values = [896, 1024, 1];
      assert.deepEqual(essentials(byId.get(n.id)!), expected, `node ${n.id} (${n.type})`);
    }
    assert.deepEqual(edit.workflow.links, wf.links);

    // Typing into the Primitive's textarea: one edit, and both encoders it feeds get the text.
    await wv.page.evaluate(() => (window as any).__marble.editor.setView({ offset: [0, 0], scale: 1 }));
    await wv.page.evaluate(() => {
      const { editor } = (window as any).__marble;
      const n = editor.node(13);
      editor.setView({ offset: [40 - n.pos[0], 80 - n.pos[1]], scale: 1 });
      editor.canvas.draw(true, true);
    });
    const textarea = wv.page.locator('textarea.marble-textarea[data-node="13"]');
    await textarea.click();
    await wv.page.keyboard.press('Control+a');
    await wv.page.keyboard.type('a lighthouse at dawn');
    await textarea.evaluate((el) => (el as HTMLTextAreaElement).blur());
    const all = await wv.waitForPosted<{ workflow: Wf }>(2, 'edit');
    const after = new Map(all[1].workflow.nodes.map((n) => [n.id, n]));
    assert.deepEqual(after.get(13)!.widgets_values, ['a lighthouse at dawn']);
    assert.deepEqual(after.get(6)!.widgets_values, ['a lighthouse at dawn'], 'base positive encoder');
    assert.deepEqual(after.get(15)!.widgets_values, ['a lighthouse at dawn'], 'refiner positive encoder');
    assert.deepEqual(after.get(7)!.widgets_values, ['text, watermark'], 'the negative prompt is untouched');
  });

  it('a Reroute is a small box that passes its type through and round-trips; a Note edits in place', async () => {
    const wf = readJson<Wf>(DEFAULT_GRAPH);
    // Load Checkpoint's VAE (link 8 → VAE Decode) through a Reroute, as ComfyUI saves it.
    const link8 = (wf.links as unknown[][]).find((l) => l[0] === 8)!;
    link8[3] = 10; link8[4] = 0;
    wf.links.push([10, 10, 0, 8, 1, 'VAE']);
    wf.nodes.find((n) => n.id === 8)!.inputs!.find((i) => i.name === 'vae')!.link = 10;
    wf.nodes.push({
      id: 10, type: 'Reroute', pos: [900, 420], size: [75, 26], flags: {}, order: 1, mode: 0,
      inputs: [{ name: '', type: '*', link: 8 }], outputs: [{ name: '', type: 'VAE', links: [10], slot_index: 0 }],
      properties: { showOutputText: false, horizontal: false },
    } as never);
    wf.nodes.push({
      id: 11, type: 'Note', pos: [40, 40], size: [300, 120], flags: {}, order: 0, mode: 0,
      properties: { text: '' }, widgets_values: ['Draft: try 30 steps'], color: '#432', bgcolor: '#653',
    } as never);
    wf.last_node_id = 11; wf.last_link_id = 10;
    const wv = await webviews.open('graph', { width: 1400, height: 900 });
    await sendGraphInit(wv, JSON.stringify(wf));
    await wv.page.waitForFunction(() => (window as any).__marble?.editor.graph.nodes.length === 9);
    const reroute = await wv.page.evaluate(() => {
      const n = (window as any).__marble.editor.node(10);
      return { size: Array.from(n.size), out: n.outputs[0].type, titleMode: n.title_mode };
    });
    assert.deepEqual(reroute, { size: [75, 26], out: 'VAE', titleMode: 1 });
    await wv.page.evaluate(() => (window as any).__marble.editor.canvas.draw(true, true));
    await wv.page.screenshot({ path: screenshotPath('graph-reroute-note.png') });
    const textarea = wv.page.locator('textarea.marble-textarea[data-node="11"]');
    await textarea.click();
    await wv.page.keyboard.press('End');
    await wv.page.keyboard.type(' and cfg 7');
    await wv.page.mouse.click(5, 890);
    const [edit] = await wv.waitForPosted<{ workflow: Wf }>(1, 'edit');
    const out = new Map(edit.workflow.nodes.map((n) => [n.id, n]));
    assert.deepEqual(out.get(11)!.widgets_values, ['Draft: try 30 steps and cfg 7']);
    assert.deepEqual(essentials(out.get(10)!), essentials(wf.nodes.find((n) => n.id === 10)!));
    assert.deepEqual(edit.workflow.links, wf.links);
  });
});
