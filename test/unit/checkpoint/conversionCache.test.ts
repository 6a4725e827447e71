// The conversion cache's guarantees, with the ONNX-writing step injected: written once, reused,
// rebuilt when stale or corrupt, nothing left by bad input or failures, one converter across
// processes, and a cache that still works after a converter is killed with SIGKILL.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fsp, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isStale, STALE_AFTER_MS } from '../../../src/inference/checkpoint/cache/conversionLock';
import { ConversionCache, MARKER_FILE, type CacheVariant, type Producer } from '../../../src/inference/checkpoint/conversionCache';

const VARIANT: CacheVariant = { precision: 'fp32', epFamily: 'cpu', role: 'checkpoint' };
const CHILD = path.join(__dirname, 'fixtures', 'convertChild.ts');

/** A producer that writes a small optimum-like folder and counts its calls. */
function countingProducer(): { producer: Producer; calls: () => number } {
  let calls = 0;
  const producer: Producer = async (out, onProgress) => {
    calls++;
    await fsp.mkdir(path.join(out, 'unet'));
    await fsp.writeFile(path.join(out, 'unet', 'model.onnx'), Buffer.alloc(300, 7));
    onProgress(0.5);
    await fsp.writeFile(path.join(out, 'unet', 'model.onnx_data'), Buffer.alloc(4096, 9));
    await fsp.writeFile(path.join(out, 'model_index.json'), '{}');
    onProgress(1);
    return { family: 'sd1' };
  };
  return { producer, calls: () => calls };
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.split('\n').includes(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing ${line}; stdout: ${buf}`)));
  });
}

describe('conversion cache', function () {
  this.timeout(60_000);
  let tmp: string;
  let root: string;
  let source: string;

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'marble-cache-'));
    root = path.join(tmp, 'cache');
    source = path.join(tmp, 'model.safetensors');
    writeFileSync(source, Buffer.concat([Buffer.from([16, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":1}         '.slice(0, 16)), Buffer.alloc(64)]));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('converts once with progress from 0 to 1, then serves the entry without converting', async () => {
    const cache = new ConversionCache(root);
    const { producer, calls } = countingProducer();
    const seen: number[] = [];
    const first = await cache.ensure(source, { variant: VARIANT, prepare: async () => producer, onProgress: (f) => seen.push(f) });
    assert.equal(first.converted, true);
    assert.equal(seen[0], 0);
    assert.equal(seen.at(-1), 1);
    assert.ok(seen.every((f, i) => i === 0 || f >= seen[i - 1]), `progress must not go back: ${seen}`);
    assert.deepEqual(first.marker.files, { 'model_index.json': 2, 'unet/model.onnx': 300, 'unet/model.onnx_data': 4096 });
    assert.deepEqual(first.marker.summary, { family: 'sd1' });
    const second = await new ConversionCache(root).ensure(source, { variant: VARIANT, prepare: async () => assert.fail('a hit must not prepare') });
    assert.equal(second.converted, false);
    assert.equal(second.dir, first.dir);
    assert.equal(calls(), 1);
    // Other precisions are other entries.
    const fp16 = await cache.ensure(source, { variant: { ...VARIANT, precision: 'fp16' }, prepare: async () => producer });
    assert.notEqual(fp16.dir, first.dir);
    assert.deepEqual(readdirSync(root).sort(), [path.basename(first.dir), path.basename(fp16.dir)].sort());
  });

  it('leaves nothing behind when prepare refuses the file or the producer fails', async () => {
    const cache = new ConversionCache(root);
    await assert.rejects(cache.ensure(source, { variant: VARIANT, prepare: async () => { throw new Error('model.safetensors: not a checkpoint'); } }), /not a checkpoint/);
    assert.equal(existsSync(root), false);
    const failing: Producer = async (out) => {
      await fsp.writeFile(path.join(out, 'half.onnx'), Buffer.alloc(100));
      throw new Error('disk full');
    };
    await assert.rejects(cache.ensure(source, { variant: VARIANT, prepare: async () => failing }), /disk full/);
    assert.deepEqual(readdirSync(root), []);
    assert.equal((await cache.lookup(source, VARIANT)), undefined);
  });

  it('rebuilds an entry whose files no longer match its marker, and one whose marker is gone', async () => {
    const cache = new ConversionCache(root);
    const { producer, calls } = countingProducer();
    const { dir } = await cache.ensure(source, { variant: VARIANT, prepare: async () => producer });
    await fsp.truncate(path.join(dir, 'unet', 'model.onnx_data'), 100);
    assert.equal(await cache.lookup(source, VARIANT), undefined);
    assert.equal((await cache.info()).entries[0].state, 'incomplete');
    const again = await cache.ensure(source, { variant: VARIANT, prepare: async () => producer });
    assert.equal(again.converted, true);
    assert.equal((await fsp.stat(path.join(dir, 'unet', 'model.onnx_data'))).size, 4096);
    await fsp.rm(path.join(dir, MARKER_FILE));
    assert.equal((await cache.ensure(source, { variant: VARIANT, prepare: async () => producer })).converted, true);
    assert.equal(calls(), 3);
    assert.deepEqual(readdirSync(root), [path.basename(dir)]);
  });

  it('converts again when the source file changes, and drops the entry of the old file', async () => {
    const cache = new ConversionCache(root);
    const { producer } = countingProducer();
    const first = await cache.ensure(source, { variant: VARIANT, prepare: async () => producer });
    // Same size, new header bytes and mtime: a different download under the same name.
    const buf = await fsp.readFile(source);
    buf.write('{"b":2}', 8);
    await fsp.writeFile(source, buf);
    utimesSync(source, new Date(), new Date(Date.now() + 5000));
    const second = await cache.ensure(source, { variant: VARIANT, prepare: async () => producer });
    assert.equal(second.converted, true);
    assert.notEqual(second.dir, first.dir);
    assert.deepEqual(readdirSync(root), [path.basename(second.dir)]);
  });

  it('runs one conversion when two callers in one process ask at once', async () => {
    const cache = new ConversionCache(root);
    const { producer, calls } = countingProducer();
    const [a, b] = await Promise.all([
      cache.ensure(source, { variant: VARIANT, prepare: async () => producer, pollMs: 10 }),
      cache.ensure(source, { variant: VARIANT, prepare: async () => producer, pollMs: 10 }),
    ]);
    assert.equal(calls(), 1);
    assert.equal(a.dir, b.dir);
    assert.deepEqual([a.converted, b.converted].sort(), [false, true]);
  });

  it('waits for another process converting the same file and uses its entry', async () => {
    const go = path.join(tmp, 'go');
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root, source, go], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await waitForLine(child, 'STARTED');
      const states = new Set<string>();
      const result = await new ConversionCache(root).ensure(source, {
        variant: VARIANT,
        pollMs: 20,
        // The file is checked (prepare) on every miss; the conversion itself is the other's.
        prepare: async () => async () => assert.fail('the other process converts'),
        onProgress: (f, state) => {
          states.add(`${state}`);
          if (state === 'waiting') writeFileSync(go, '');
        },
      });
      assert.equal(result.converted, false);
      assert.deepEqual(result.marker.summary, { by: 'child' });
      assert.ok(states.has('waiting'));
      await new Promise((r) => child.once('exit', r));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('stays usable after a converter is killed with SIGKILL mid-conversion', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root, source, path.join(tmp, 'never')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await waitForLine(child, 'STARTED');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const left = readdirSync(root);
    assert.ok(left.some((e) => e.startsWith('.tmp-')) && left.some((e) => e.endsWith('.lock')), `a killed conversion leaves its temp folder and lock: ${left}`);
    const cache = new ConversionCache(root);
    assert.equal(await cache.lookup(source, VARIANT), undefined);
    const { producer } = countingProducer();
    const r = await cache.ensure(source, { variant: VARIANT, prepare: async () => producer });
    assert.equal(r.converted, true);
    assert.deepEqual(readdirSync(root), [path.basename(r.dir)]);
  });

  it('judges locks by the owner: a live pid on this host holds even when busy, a dead one or a silent other host does not', () => {
    const now = Date.now();
    const mine = { pid: process.pid, host: os.hostname(), startedAt: now, progress: 0.5 };
    assert.equal(isStale({ info: mine, mtimeMs: now - 5 * STALE_AFTER_MS }, now), false, 'a live owner whose heartbeat is late');
    // A pid far above any kernel's pid_max is never alive.
    assert.equal(isStale({ info: { ...mine, pid: 2 ** 30 }, mtimeMs: now }, now), true, 'a dead owner (kill -9)');
    assert.equal(isStale({ info: { ...mine, host: 'elsewhere' }, mtimeMs: now - 1000 }, now), false);
    assert.equal(isStale({ info: { ...mine, host: 'elsewhere' }, mtimeMs: now - 2 * STALE_AFTER_MS }, now), true);
    assert.equal(isStale({ info: undefined, mtimeMs: now - 2 * STALE_AFTER_MS }, now), true, 'an unreadable lock, old');
  });

  it('reports sizes and clears everything, saying how much it freed', async () => {
    const cache = new ConversionCache(root);
    const { producer } = countingProducer();
    const r = await cache.ensure(source, { variant: VARIANT, prepare: async () => producer });
    const info = await cache.info();
    const markerBytes = (await fsp.stat(path.join(r.dir, MARKER_FILE))).size;
    assert.equal(info.totalBytes, 300 + 4096 + 2 + markerBytes);
    assert.equal(info.entries.length, 1);
    assert.equal(info.entries[0].state, 'complete');
    assert.equal(info.entries[0].source, path.resolve(source));
    const cleared = await cache.clear();
    assert.deepEqual(cleared, { removed: 1, freedBytes: info.totalBytes, skipped: [] });
    assert.deepEqual(readdirSync(root), []);
    assert.equal((await cache.info()).totalBytes, 0);
  });
});
