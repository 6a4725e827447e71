import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { autoEpOrder, autoRunsOnCpu, createSession, SessionCreateError, type SessionFactory } from '../../../src/inference/ort/executionProviders';
import { float16ToFloat32 } from '../../../src/inference/ort/float16';
import { IoAdapter } from '../../../src/inference/ort/ioAdapter';
import { estimateModelBytes, SessionCache } from '../../../src/inference/ort/sessionCache';
import { scratchDir, tinyModel } from './fixtures';

interface FakeSession {
  id: number;
  released: boolean;
  release(): Promise<void>;
}

/** A factory that fails for the listed EPs and otherwise returns recordable fake sessions. */
function fakeFactory(failFor: string[]) {
  const created: { file: string; ep: string; session: FakeSession }[] = [];
  let n = 0;
  const factory: SessionFactory = async (file, options) => {
    const ep = String(options.executionProviders?.[0]);
    if (failFor.includes(ep)) throw new Error(`${ep} backend not available here`);
    const session: FakeSession = { id: ++n, released: false, release: async () => void (session.released = true) };
    created.push({ file, ep, session });
    return session as unknown as ort.InferenceSession;
  };
  return { factory, created };
}

function modelFile(dir: string, name: string, modelBytes: number, dataBytes: number): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'model.onnx'), Buffer.alloc(modelBytes));
  if (dataBytes) fs.writeFileSync(path.join(d, 'model.onnx_data'), Buffer.alloc(dataBytes));
  fs.writeFileSync(path.join(d, 'config.json'), '{}');
  return path.join(d, 'model.onnx');
}

describe('execution provider selection', () => {
  it('orders GPU EPs per platform and always ends with cpu', () => {
    assert.deepEqual(autoEpOrder('linux'), ['cuda', 'webgpu', 'cpu']);
    assert.deepEqual(autoEpOrder('win32'), ['dml', 'webgpu', 'cpu']);
    assert.deepEqual(autoEpOrder('darwin'), ['coreml', 'webgpu', 'cpu']);
    assert.deepEqual(autoEpOrder('freebsd'), ['cpu']);
  });

  it('knows when auto can only end on the CPU (which graphs a converted checkpoint gets)', () => {
    const probe = (cuda: boolean, vulkanMissing: boolean | undefined) => ({ cuda: () => cuda, vulkanMissing: () => vulkanMissing });
    assert.equal(autoRunsOnCpu('linux', probe(false, true)), true);
    assert.equal(autoRunsOnCpu('linux', probe(true, true)), false, 'the CUDA provider is installed');
    assert.equal(autoRunsOnCpu('linux', probe(false, false)), false, 'WebGPU may run over Vulkan');
    assert.equal(autoRunsOnCpu('linux', probe(false, undefined)), false, 'cannot tell: assume a GPU may be found');
    assert.equal(autoRunsOnCpu('win32'), false);
    assert.equal(autoRunsOnCpu('darwin'), false);
    assert.equal(autoRunsOnCpu('freebsd'), true);
  });

  it('auto falls through failing EPs to cpu and records the attempts', async () => {
    const file = modelFile(scratchDir('ep'), 'm', 10, 0);
    const { factory, created } = fakeFactory(['dml', 'webgpu']);
    const r = await createSession(file, { ep: 'auto', platform: 'win32', factory });
    assert.equal(r.ep, 'cpu');
    assert.deepEqual(r.failed.map((a) => a.ep), ['dml', 'webgpu']);
    assert.match(r.failed[0].error, /dml backend not available/);
    assert.deepEqual(created.map((c) => c.ep), ['cpu']);
  });

  it('an explicit EP is strict: its failure names the EP and the file', async () => {
    const file = modelFile(scratchDir('ep'), 'm', 10, 0);
    const { factory } = fakeFactory(['dml']);
    await assert.rejects(createSession(file, { ep: 'dml', factory, label: 'unet/model.onnx' }), (e: unknown) => e instanceof SessionCreateError && e.reason === 'ep-unavailable' && /execution provider 'dml' could not create a session for unet\/model\.onnx; choose 'auto' or 'cpu'/.test(e.message) && e.attempts.length === 1);
  });

  it('rejects unknown settings and missing files before touching onnxruntime', async () => {
    await assert.rejects(createSession('x.onnx', { ep: 'tpu' as never }), /'tpu' is not one of auto, webgpu, cuda, dml, coreml, cpu/);
    await assert.rejects(createSession(path.join(scratchDir('ep'), 'missing.onnx'), { label: 'vae_decoder/model.onnx' }), /model file vae_decoder\/model\.onnx does not exist/);
  });

  it('real onnxruntime: webgpu works or fails clearly, and auto lands on a working EP', async function () {
    this.timeout(20000);
    const file = path.join(tinyModel('fp32'), 'vae_encoder', 'model.onnx');
    let webgpuWorks = false;
    try {
      const s = await createSession(file, { ep: 'webgpu', label: 'vae_encoder/model.onnx' });
      assert.equal(s.ep, 'webgpu');
      webgpuWorks = true;
      await s.session.release();
    } catch (e) {
      assert.ok(e instanceof SessionCreateError, String(e));
      assert.match(e.message, /execution provider 'webgpu' could not create a session for vae_encoder\/model\.onnx[\s\S]*webgpu: \S/);
    }
    const auto = await createSession(file, { ep: 'auto' });
    try {
      const tried = autoEpOrder();
      assert.ok(tried.includes(auto.ep));
      assert.deepEqual(auto.failed.map((a) => a.ep), tried.slice(0, tried.indexOf(auto.ep)));
      if (!webgpuWorks && auto.ep !== 'cuda') assert.equal(auto.ep, 'cpu');
      // Without a Vulkan loader auto does not even try WebGPU (Dawn would print a warning and fail).
      const vulkan = fs.existsSync('/etc/ld.so.cache') && fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
      const webgpuAttempt = auto.failed.find((a) => a.ep === 'webgpu');
      if (process.platform === 'linux' && !vulkan && !process.env.LD_LIBRARY_PATH && webgpuAttempt) {
        assert.match(webgpuAttempt.error, /no Vulkan loader \(libvulkan\.so\.1\)/);
      }
      // The session that auto produced really runs.
      const out = await auto.session.run({ sample: new (await import('onnxruntime-node')).Tensor('float32', new Float32Array(3 * 16 * 16), [1, 3, 16, 16]) });
      assert.deepEqual(out.latent_sample.dims, [1, 4, 2, 2]);
    } finally {
      await auto.session.release();
    }
  });

  it('real onnxruntime: a corrupt file is reported as such, not as an EP problem', async () => {
    const file = modelFile(scratchDir('corrupt'), 'bad', 0, 0);
    fs.writeFileSync(file, 'garbage');
    await assert.rejects(createSession(file, { ep: 'cpu', label: 'text_encoder/model.onnx' }), /could not load text_encoder\/model\.onnx: the file is not a valid ONNX model[\s\S]*cpu: .*Protobuf parsing failed/);
  });
});

describe('SessionCache', () => {
  it('estimates memory as model.onnx plus sibling weight files, not JSON', () => {
    const file = modelFile(scratchDir('est'), 'm', 100, 900);
    fs.writeFileSync(path.join(path.dirname(file), 'weights.pb'), Buffer.alloc(50));
    assert.equal(estimateModelBytes(file), 1050);
  });

  it('reuses sessions, evicts least recently used beyond the budget, and frees all', async () => {
    const dir = scratchDir('lru');
    const [a, b, c] = ['a', 'b', 'c'].map((n) => modelFile(dir, n, 100, 900));
    const { factory, created } = fakeFactory([]);
    const cache = new SessionCache({ budgetBytes: 2500, ep: 'cpu', factory });
    const sa = await cache.acquire(a);
    assert.equal(await cache.acquire(a), sa, 'second acquire is a cache hit');
    await cache.acquire(b);
    await cache.acquire(a); // a is now more recent than b
    await cache.acquire(c); // 3000 > 2500: evict b
    assert.equal(created.length, 3);
    assert.deepEqual(cache.list().map((e) => path.basename(path.dirname(e.file))).sort(), ['a', 'c']);
    assert.equal(created[1].session.released, true);
    assert.equal(cache.usedBytes, 2000);
    assert.equal(cache.list()[0].ep, 'cpu');
    await cache.freeAll();
    assert.ok(created.every((x) => x.session.released));
    assert.equal(cache.list().length, 0);
  });

  it('opens a variant (LoRA-patched copy) from its prepared file, keeps the base, and holds one variant per file', async () => {
    const dir = scratchDir('variant');
    const a = modelFile(dir, 'a', 100, 900);
    const { factory, created } = fakeFactory([]);
    const cache = new SessionCache({ budgetBytes: 10_000, ep: 'cpu', factory });
    const disposed: string[] = [];
    const variant = (key: string) => ({
      key,
      prepare: async () => {
        const file = modelFile(dir, `patched-${key}`, 100, 10);
        return { file, dispose: async () => void disposed.push(key) };
      },
    });
    const base = await cache.acquire(a);
    const v1 = await cache.acquire(a, undefined, variant('s0.8'));
    assert.notEqual(v1, base);
    assert.equal(await cache.acquire(a, undefined, variant('s0.8')), v1, 'the same patches reuse the session');
    assert.equal(path.basename(path.dirname(created[1].file)), 'patched-s0.8', 'the session was created from the prepared copy');
    assert.deepEqual(disposed, ['s0.8'], 'the copy is removed once the session exists');
    const v2 = await cache.acquire(a, undefined, variant('s0.5'));
    assert.equal(created[1].session.released, true, 'another strength replaces the old patched session');
    assert.equal(created[0].session.released, false, 'the base session stays');
    assert.deepEqual(cache.list().map((e) => e.variant).sort(), ['', 's0.5']);
    assert.equal(v2.file, v1.file, 'variants belong to the base file: releasing it frees them all');
    assert.equal(await cache.release(a), 2);
  });

  it('never evicts a session that is in the middle of a run', async () => {
    const dir = scratchDir('pin');
    const [a, b] = ['a', 'b'].map((n) => modelFile(dir, n, 100, 900));
    const { factory, created } = fakeFactory([]);
    const cache = new SessionCache({ budgetBytes: 1500, ep: 'cpu', factory });
    await cache.use(a, async () => {
      await cache.acquire(b); // over budget, but a is busy
      assert.equal(created[0].session.released, false);
    });
    await cache.acquire(a);
    const c = modelFile(dir, 'c', 100, 900);
    await cache.acquire(c); // now b (least recent, idle) goes, then a too: each is 1000 of a 1500 budget
    assert.equal(created[1].session.released, true);
    assert.deepEqual(cache.list().map((e) => path.basename(path.dirname(e.file))), ['c']);
    await cache.freeAll();
  });

  it('creates concurrent requests for one file once and keys sessions by EP setting', async () => {
    const file = modelFile(scratchDir('dedupe'), 'm', 10, 0);
    const { factory, created } = fakeFactory(['cuda', 'webgpu']);
    const cache = new SessionCache({ ep: 'auto', factory, platform: 'linux' });
    const [x, y] = await Promise.all([cache.acquire(file), cache.acquire(file)]);
    assert.equal(x, y);
    assert.equal(x.ep, 'cpu');
    assert.deepEqual(x.failed.map((f) => f.ep), ['cuda', 'webgpu']);
    cache.setEpSetting('cpu');
    const z = await cache.acquire(file);
    assert.notEqual(z, x);
    assert.equal(created.length, 2);
    assert.equal(await cache.release(file), 2);
    await cache.freeAll();
  });
});

describe('IoAdapter', () => {
  const meta = (inputs: [string, string, (number | string)[]][], outputs: [string, string, (number | string)[]][] = [['out', 'float32', ['n']]]) => ({
    inputNames: inputs.map((i) => i[0]),
    outputNames: outputs.map((o) => o[0]),
    inputMetadata: inputs.map(([name, type, shape]) => ({ name, isTensor: true as const, type: type as ort.Tensor.Type, shape })),
    outputMetadata: outputs.map(([name, type, shape]) => ({ name, isTensor: true as const, type: type as ort.Tensor.Type, shape })),
  });

  it('converts token ids to the declared int32 or int64', () => {
    const ids = { ints: [49406, 320, 49407], shape: [1, 3] };
    const i32 = new IoAdapter(meta([['input_ids', 'int32', ['b', 's']]]), 'te').toOrtFeeds({ input_ids: ids });
    assert.equal(i32.input_ids.type, 'int32');
    assert.deepEqual([...(i32.input_ids.data as Int32Array)], [49406, 320, 49407]);
    const i64 = new IoAdapter(meta([['input_ids', 'int64', ['b', 's']]]), 'te').toOrtFeeds({ input_ids: ids });
    assert.equal(i64.input_ids.type, 'int64');
    assert.deepEqual([...(i64.input_ids.data as BigInt64Array)], [49406n, 320n, 49407n]);
  });

  it('shapes timesteps as scalar or [batch] in float32, float16 or int64', () => {
    const sample = { data: new Float32Array(2 * 4), shape: [2, 4, 1, 1] };
    const mk = (type: string, shape: (number | string)[]) => new IoAdapter(meta([['sample', 'float32', ['b', 4, 'h', 'w']], ['timestep', type, shape]]), 'unet');
    const scalar = mk('float32', []).toOrtFeeds({ sample, timestep: { timestep: 999.5 } }).timestep;
    assert.deepEqual(scalar.dims, []);
    assert.deepEqual([...(scalar.data as Float32Array)], [999.5]);
    const vec = mk('float32', ['steps']).toOrtFeeds({ sample, timestep: { timestep: 999 } }).timestep;
    assert.deepEqual(vec.dims, [2]); // batch taken from sample
    assert.deepEqual([...(vec.data as Float32Array)], [999, 999]);
    const i64 = mk('int64', ['steps']).toOrtFeeds({ sample, timestep: { timestep: [980.6, 10] } }).timestep;
    assert.deepEqual([...(i64.data as BigInt64Array)], [981n, 10n]);
    const f16 = mk('float16', ['steps']).toOrtFeeds({ sample, timestep: { timestep: 999, batch: 3 } }).timestep;
    assert.deepEqual(f16.dims, [3]);
    assert.deepEqual([...float16ToFloat32(f16.data as Uint16Array)], [999, 999, 999]);
    assert.throws(() => mk('float32', []).toOrtFeeds({ sample, timestep: { timestep: [999, 500] } }), /one scalar timestep for the whole batch/);
    assert.throws(() => mk('float32', ['steps']).toOrtFeeds({ sample, timestep: { timestep: [1, 2, 3] } }), /3 timesteps for a batch of 2/);
    assert.throws(() => mk('float32', ['steps']).toOrtFeeds({ sample, timestep: { timestep: NaN } }), /timestep must be finite/);
  });

  it('feeds float16 inputs as half bits and reads float16 outputs back as float32', () => {
    const a = new IoAdapter(meta([['sample', 'float16', ['b', 4]]], [['out_sample', 'float16', ['b', 4]]]), 'unet');
    const feed = a.toOrtFeeds({ sample: { data: Float32Array.from([1, -2, 0.5, 65504]), shape: [1, 4] } }).sample;
    assert.equal(feed.type, 'float16');
    assert.deepEqual([...(feed.data as Uint16Array)], [0x3c00, 0xc000, 0x3800, 0x7bff]);
    const out = a.fromOrtOutputs({ out_sample: { type: 'float16', data: Uint16Array.from([0x3c00, 0x0001]), dims: [1, 2] } as unknown as ort.Tensor });
    assert.deepEqual([...out.out_sample.data], [1, 2 ** -24]);
    assert.deepEqual(out.out_sample.shape, [1, 2]);
  });

  it('names the model and input in every feed error', () => {
    const a = new IoAdapter(meta([['input_ids', 'int32', ['b', 77]]]), 'text_encoder/model.onnx');
    assert.throws(() => a.toOrtFeeds({ input_ids: { ints: [1, 2], shape: [1, 2] } }), /input 'input_ids' of text_encoder\/model\.onnx expects shape \[b, 77\], got \[1, 2\]/);
    assert.throws(() => a.toOrtFeeds({ input_ids: { ints: [1], shape: [1, 77] } }), /1 values for shape \[1, 77\]/);
    assert.throws(() => a.toOrtFeeds({ input_ids: { data: new Float32Array(77), shape: [1, 77] } }), /is int32, not a float tensor/);
    assert.throws(() => a.toOrtFeeds({ input_ids: { ints: [], shape: [0, 77] }, attention_mask: { ints: [], shape: [0, 77] } }), /has no input 'attention_mask'; its inputs are input_ids/);
  });
});
