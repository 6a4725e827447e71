// Failures inside one real inference child (BackendClient → forked dist/inference.js): broken
// model folders, execution providers that cannot load, unreadable images and tensors too large to
// allocate each end the prompt with an execution_error naming the node and the cause; the same
// child then runs a good prompt, and the output folder never holds a partial file. A child killed
// mid-run rejects what was pending and a new client works.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackendClient, BackendRequestError, type CrashInfo } from '../../../src/inference/client/backendClient';
import { defaultRuntimeConfig } from '../../../src/inference/nodes/runtimeConfig';
import type { BackendEvent, ConfigureParams } from '../../../src/protocol/inference';
import type { ApiPrompt } from '../../../src/workflow/types';
import { endOf, recordEvents } from '../inference/helpers';
import { assertNoPartialFiles, defaultPrompt, inferenceEntry, makeWorkspace, removeBundle, within, type Workspace } from './harness';

type ErrorEvent = Extract<BackendEvent, { type: 'execution_error' }>;

describe('robustness: failures inside the inference child', function () {
  this.timeout(60000);
  let ws: Workspace;
  let entry: string;
  let client: BackendClient;
  let rec: ReturnType<typeof recordEvents>;
  let config: ConfigureParams;
  let good = 0;

  before(async () => {
    entry = await inferenceEntry();
    ws = makeWorkspace();
    config = { ...defaultRuntimeConfig(ws.base), modelsRoots: [ws.models], outputDir: ws.output, inputDir: ws.input, ep: 'cpu', previews: false };
    // A fixed 100 MiB cap on one tensor makes the run-time allocation check reachable cheaply.
    client = new BackendClient({ entry, env: { ...process.env, MARBLE_MAX_TENSOR_MB: '100' }, requestTimeoutMs: 20000 });
    await client.start();
    await client.configure(config);
    rec = recordEvents(client);
  });
  after(async () => {
    await client?.shutdown().catch(() => client.dispose());
    ws?.remove();
    removeBundle();
  });

  /** Queues `prompt` and resolves with its final event. */
  async function runPrompt(prompt: ApiPrompt): Promise<BackendEvent> {
    const { prompt_id } = await client.queue({ prompt });
    return within(rec.waitFor(endOf(prompt_id), 30000), 30000, 'the prompt');
  }

  async function expectNodeError(prompt: ApiPrompt, nodeId: string, nodeType: string, pattern: RegExp): Promise<ErrorEvent['data']> {
    const end = await runPrompt(prompt);
    assert.equal(end.type, 'execution_error', JSON.stringify(end));
    const data = (end as ErrorEvent).data;
    assert.equal(data.node_id, nodeId);
    assert.equal(data.node_type, nodeType);
    assert.match(data.exception_message, pattern);
    assert.doesNotMatch(data.exception_message, /\n\s+at /, 'no stack trace in the message');
    return data;
  }

  /** The same child still works: a good prompt saves one more complete PNG, nothing partial. */
  async function expectStillWorks(): Promise<void> {
    // A new seed each time: an identical prompt would come from the cache and save nothing.
    good++;
    const end = await runPrompt(defaultPrompt((p) => { p['3'].inputs.seed = 1000 + good; }));
    assert.equal(end.type, 'execution_success', JSON.stringify(end));
    const files = assertNoPartialFiles(ws.output);
    assert.equal(files.length, good);
    assert.equal(files.at(-1), `Robust_${String(good).padStart(5, '0')}_.png`);
  }

  const withCkpt = (name: string) => defaultPrompt((p) => { p['4'].inputs.ckpt_name = name; });

  it('a corrupt model file (unet truncated to 100 bytes)', async () => {
    await expectNodeError(withCkpt('corrupt'), '4', 'CheckpointLoaderSimple',
      /could not load unet\/model\.onnx in .*corrupt: the file is not a valid ONNX model for onnxruntime \(corrupt, truncated or unsupported\)\n {2}cpu: .*Protobuf parsing failed/);
    await expectStillWorks();
  });

  it('a U-Net with the wrong input names', async () => {
    await expectNodeError(withCkpt('wrongio'), '4', 'CheckpointLoaderSimple',
      /unet\/model\.onnx in .*wrongio is not a Stable Diffusion U-Net: missing input\(s\) timestep; unexpected input\(s\) time_step\.\n {2}expected inputs: +sample, timestep, encoder_hidden_states/);
    await expectStillWorks();
  });

  it('a missing external-data file', async () => {
    await expectNodeError(withCkpt('noext'), '4', 'CheckpointLoaderSimple',
      /could not load unet\/model\.onnx in .*noext: its external weights file model\.onnx_data is missing \(expected at .*noext\/unet\/model\.onnx_data\); copy it next to model\.onnx/);
    await expectStillWorks();
  });

  it('a tensor too large to allocate fails in the node, before allocating, and the child lives', async () => {
    const prompt = defaultPrompt((p) => {
      p['10'] = { class_type: 'RepeatLatentBatch', inputs: { samples: ['5', 0], amount: 64 } };
      p['11'] = { class_type: 'RepeatLatentBatch', inputs: { samples: ['10', 0], amount: 64 } };
      p['8'].inputs.samples = ['11', 0];
      p['5'].inputs = { width: 512, height: 512, batch_size: 1 };
    });
    const pid = client.pid;
    await expectNodeError(prompt, '11', 'RepeatLatentBatch',
      /^amount: 64 copies of a batch of 64 needs 0\.25 GiB \(67108864 float32 values\), more than the 0\.10 GiB this process can allocate now; use a smaller size or batch$/);
    assert.equal(client.pid, pid);
    assert.ok(client.running);
    await expectStillWorks();
  });

  it('an oversized EmptyLatentImage is refused by validation, naming node and input', async () => {
    const prompt = defaultPrompt((p) => { p['5'].inputs = { width: 16384, height: 16384, batch_size: 4096 }; });
    const err = await client.queue({ prompt }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof BackendRequestError && err.rejection, String(err));
    assert.match(err.rejection.node_errors['5'].errors[0].details, /node 5 \(EmptyLatentImage\): batch_size: the latent for 4096 × 16384×16384 needs 256\.0 GiB/);
    await expectStillWorks();
  });

  it('an execution provider that cannot load names the EP and what to do', async () => {
    for (const ep of ['cuda', 'webgpu']) {
      await client.configure({ ...config, ep });
      const end = await runPrompt(defaultPrompt((p) => { p['3'].inputs.seed = 7; }));
      // A machine with a working GPU provider may simply succeed.
      if (end.type === 'execution_success') continue;
      assert.equal(end.type, 'execution_error');
      const data = (end as ErrorEvent).data;
      // The checkpoint's outputs are cached from earlier prompts, so the U-Net session is first
      // created under the new EP when KSampler calls it.
      assert.ok(['CheckpointLoaderSimple', 'KSampler'].includes(data.node_type), data.node_type);
      assert.match(data.exception_message, new RegExp(`execution provider '${ep}' could not create a session for unet/model\\.onnx in .*; choose 'auto' or 'cpu' instead \\(.*\\)\\n {2}${ep}: `));
      if (ep === 'cuda') assert.match(data.exception_message, /npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12/);
    }
    await client.configure(config);
    await expectStillWorks();
    const err = await client.configure({ ...config, ep: 'tpu' }).then(() => undefined, (e: unknown) => e);
    assert.match(String(err), /execution provider 'tpu' is not one of auto, webgpu, cuda, dml, coreml, cpu/);
    await client.configure(config);
  });

  it('LoadImage: garbage bytes fail in the node, a missing file fails validation', async () => {
    fs.writeFileSync(path.join(ws.input, 'garbage.png'), Buffer.from('this is not a png at all, just text pretending'));
    const load = (image: string): ApiPrompt => ({
      '1': { class_type: 'LoadImage', inputs: { image } },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'Loaded' } },
    });
    await expectNodeError(load('garbage.png'), '1', 'LoadImage', /^cannot decode image .*input\/garbage\.png: Input file contains unsupported image format$/);
    const err = await client.queue({ prompt: load('absent.png') }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof BackendRequestError && err.rejection, String(err));
    assert.match(err.rejection.node_errors['1'].errors[0].details, /node 1 \(LoadImage\): Invalid image file: absent\.png/);
    await expectStillWorks();
  });

  it('a child killed mid-run rejects pending requests with the exit reason; a new client works', async () => {
    const victim = new BackendClient({ entry, requestTimeoutMs: 20000 });
    try {
      await victim.start();
      await victim.configure(config);
      const vrec = recordEvents(victim);
      const crashed = new Promise<CrashInfo>((resolve) => victim.once('crashed', resolve));
      const { prompt_id } = await victim.queue({ prompt: defaultPrompt((p) => { p['3'].inputs.steps = 10000; p['9'].inputs.filename_prefix = 'Killed'; }) });
      // The run has started (a step reported), so the kill lands mid-run.
      await vrec.waitFor((e) => e.type === 'progress' && e.data.prompt_id === prompt_id, 20000);
      // A running child still answers between sampler steps, so a request sent just before the
      // kill could be answered first. Stopped, the child can read nothing: the request below is
      // certainly still pending when the child dies, however loaded the machine is.
      process.kill(victim.pid!, 'SIGSTOP');
      const pending = victim.queueStatus();
      process.kill(victim.pid!, 'SIGKILL');
      await assert.rejects(within(pending, 5000, 'the pending request'), /queueStatus failed: inference process exited \(signal SIGKILL\)/);
      const info = await within(crashed, 5000, 'the crashed event');
      assert.equal(info.signal, 'SIGKILL');
      assert.equal(victim.running, false);
      await assert.rejects(victim.queueStatus(), /queueStatus failed: the inference process is not running/);
      assert.ok(!assertNoPartialFiles(ws.output).some((f) => f.startsWith('Killed')));
    } finally {
      victim.dispose();
    }
    const fresh = new BackendClient({ entry, requestTimeoutMs: 20000 });
    try {
      await fresh.start();
      await fresh.configure(config);
      const frec = recordEvents(fresh);
      const { prompt_id } = await fresh.queue({ prompt: defaultPrompt((p) => { p['9'].inputs.filename_prefix = 'Fresh'; }) });
      const end = await frec.waitFor(endOf(prompt_id), 30000);
      assert.equal(end.type, 'execution_success', JSON.stringify(end));
      assert.ok(assertNoPartialFiles(ws.output).includes('Fresh_00001_.png'));
    } finally {
      await fresh.shutdown().catch(() => fresh.dispose());
    }
  });
});
