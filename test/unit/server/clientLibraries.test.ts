// Existing ComfyUI client libraries from npm, used exactly as their READMEs show, run jobs against
// `marble serve`: @saintno/comfyui-sdk (ComfyApi + PromptBuilder + CallWrapper) and
// @stable-canvas/comfyui-client (Client.enqueue over the websocket, enqueue_polling over HTTP).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import type { MarbleServer } from '../../../src/server/httpServer';
import { CKPT, getJson, makeWorkspace, removeBundle, startServer, tinyPrompt, type Workspace } from './harness';

describe('marble serve: ComfyUI client libraries from npm', function () {
  this.timeout(120_000);
  let ws: Workspace;
  let server: MarbleServer;
  let url: string;
  let port: number;

  before(async () => {
    ws = makeWorkspace();
    ({ server, url, port } = await startServer(ws));
  });
  after(async () => {
    await server?.close();
    ws?.remove();
    removeBundle();
  });

  it('@saintno/comfyui-sdk: init, queue through CallWrapper with progress and preview, fetch the image, upload', async () => {
    const { ComfyApi, CallWrapper, PromptBuilder } = await import('@saintno/comfyui-sdk');
    const api = new ComfyApi(url, 'saintno-client');
    await api.init(3, 500).waitForReady();
    try {
      const builder = new PromptBuilder(tinyPrompt({ steps: 4 }) as any, ['checkpoint', 'seed', 'steps', 'positive'], ['images'])
        .setInputNode('checkpoint', '4.inputs.ckpt_name')
        .setInputNode('seed', '3.inputs.seed')
        .setInputNode('steps', '3.inputs.steps')
        .setInputNode('positive', '6.inputs.text')
        .setOutputNode('images', '9')
        .input('checkpoint', `${CKPT}.safetensors`, api.osType)
        .input('seed', 1234)
        .input('steps', 4)
        .input('positive', 'a marble statue');
      const progress: number[] = [];
      let previews = 0;
      let failure: Error | undefined;
      const output = await new CallWrapper(api, builder)
        .onProgress((info) => progress.push(info.value))
        .onPreview(() => { previews++; })
        .onFailed((e) => { failure = e; })
        .run();
      assert.equal(failure, undefined, failure?.message);
      assert.ok(output, 'CallWrapper resolved with outputs');
      const images = (output as any).images.images as { filename: string; subfolder: string; type: string }[];
      assert.equal(images.length, 1);
      assert.deepEqual(progress.slice(-4), [1, 2, 3, 4]);
      assert.ok(previews >= 1, 'previews arrived over the websocket');
      const blob = await api.getImage(images[0] as any);
      const bytes = Buffer.from(await blob.arrayBuffer());
      assert.ok(bytes.equals(fs.readFileSync(path.join(ws.output, images[0].subfolder, images[0].filename))));

      const upload = await api.uploadImage(await sharp({ create: { width: 4, height: 4, channels: 3, background: '#123456' } }).png().toBuffer(), 'from-sdk.png');
      assert.ok(upload, 'upload answered');
      assert.equal(upload.info.filename, 'from-sdk.png');
      assert.ok(fs.existsSync(path.join(ws.input, 'from-sdk.png')));
      assert.ok((await api.getCheckpoints()).includes(CKPT));
    } finally {
      api.destroy();
    }
  });

  it('@stable-canvas/comfyui-client: enqueue with progress over ws, enqueue_polling, queue and history calls', async () => {
    const { Client } = await import('@stable-canvas/comfyui-client');
    const client = new Client({ api_host: `127.0.0.1:${port}`, WebSocket: WebSocket as any, fetch: globalThis.fetch as any, clientId: 'stable-canvas' });
    try {
      await client.getSystemStats();
      await client.connect();
      const progress: number[] = [];
      const result = await client.enqueue(tinyPrompt({ steps: 3, seed: 77 }) as any, { progress: ({ value }: { value: number }) => progress.push(value) });
      assert.deepEqual(progress, [1, 2, 3]);
      // This library also collects binary websocket frames as images (for a custom node that sends
      // images that way); here those are the sampler previews, so the saved image is the `url` one.
      const saved = result.images.filter((i: any) => i.type === 'url');
      assert.equal(saved.length, 1);
      assert.match(String(saved[0].data), /\/view\?filename=ComfyUI_\d{5}_\.png&subfolder=&type=output$/);
      const fetched = Buffer.from(await (await fetch(saved[0].data as string)).arrayBuffer());
      const meta = await sharp(fetched).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 64]);
      for (const b of result.images.filter((i: any) => i.type === 'buff')) {
        assert.ok(['png', 'jpeg'].includes((await sharp(Buffer.from(b.data as any)).metadata()).format!), 'the other frames are preview images');
      }

      const polled = await client.enqueue_polling(tinyPrompt({ steps: 2, seed: 78 }) as any);
      assert.equal(polled.images.filter((i: any) => i.type === 'url').length, 1);
      assert.equal(result.prompt_id !== polled.prompt_id, true);
      // Its getHistory() reshapes ComfyUI's dict as the old frontend did: {History: [entry + taskType]}.
      const history = await client.getHistory();
      const entry = (history as any).History.find((h: any) => h.prompt[1] === result.prompt_id);
      assert.equal(entry?.status?.status_str, 'success');
      const queue = await client.getQueue();
      assert.deepEqual([(queue as any).Running.length, (queue as any).Pending.length], [0, 0]);
      const defs = await client.getNodeDefs();
      assert.ok(defs.KSampler);
      assert.ok((await client.getSDModels()).includes(CKPT));
    } finally {
      client.close();
    }
    assert.equal((await getJson(`${url}/queue`)).body.queue_running.length, 0);
  });
});
