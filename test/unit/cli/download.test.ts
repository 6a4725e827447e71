// `marble download` against a local HTTP server: a URL lands in <models>/<folder>/ with plain
// progress lines (not a TTY), failures exit 1 with the reason, usage mistakes exit 2.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../../src/cli/commands/download';
import type { CliIO } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { safetensorsBytes, serveBytes, sha256, startServer, type TestServer } from '../download/server';

function capture(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

describe('marble download', function () {
  this.timeout(20000);
  const BODY = safetensorsBytes(300_000); // ~1.2 MB: several progress lines
  let server: TestServer;
  let dir: string;
  beforeEach(async () => {
    server = await startServer();
    server.route('/m/lora.safetensors', serveBytes(BODY));
    dir = mkdtempSync(path.join(os.tmpdir(), 'marble-cli-dl-'));
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads a URL into --models DIR/--folder, verifying --sha256', async () => {
    const io = capture();
    const code = await run([server.url('/m/lora.safetensors'), '--models', dir, '--folder', 'loras', '--sha256', sha256(BODY)], io);
    assert.equal(code, 0, io.stderr);
    const file = path.join(dir, 'loras', 'lora.safetensors');
    assert.equal(io.stdout, `${file}\n`);
    assert.ok(readFileSync(file).equals(BODY));
    assert.match(io.stderr, /Downloading http:\/\/127\.0\.0\.1:\d+\/m\/lora\.safetensors\n {2}into .*loras/);
    assert.match(io.stderr, /100% 1\.1 \/ 1\.1 MB at [\d.]+ MB\/s/);
    assert.match(io.stderr, /Saved 1\.1 MB in [\d.]+ s; SHA-256 [0-9a-f]{64} \(verified\)/);
  });

  it('a failed download exits 1 with the reason; usage mistakes exit 2', async () => {
    const io = capture();
    assert.equal(await run([server.url('/nope.safetensors'), '--models', dir], io), 1);
    assert.match(io.stderr, /marble download: HTTP 404 for .*nope\.safetensors/);
    assert.deepEqual(readdirSync(path.join(dir, 'checkpoints')), []);
    const usage = capture();
    assert.equal(await main(['download', 'not-a-model', '--models', dir], usage), 2);
    assert.match(usage.stderr, /'not-a-model' is neither a catalogue name \(sd15, .*\) nor an http\(s\) URL/);
    const folder = capture();
    assert.equal(await main(['download', server.url('/m/lora.safetensors'), '--folder', '../x'], folder), 2);
    assert.match(folder.stderr, /--folder \.\.\/x: expected one of checkpoints, vae, loras/);
  });

  it('--list prints the catalogue with folders, sizes and hashes where known', async () => {
    const io = capture();
    assert.equal(await run(['--list'], io), 0);
    const lines = io.stdout.trim().split('\n');
    assert.equal(lines.length, 8);
    assert.match(lines.find((l) => l.startsWith('sdxl-base\t'))!, /^sdxl-base\tcheckpoints\/sd_xl_base_1\.0\.safetensors\t6\.94 GB\t31e35c80[0-9a-f]{56}\thttps:\/\/huggingface\.co\/stabilityai\/stable-diffusion-xl-base-1\.0\/resolve\/main\/sd_xl_base_1\.0\.safetensors$/);
    assert.match(lines.find((l) => l.startsWith('sdxl-vae\t'))!, /^sdxl-vae\tvae\/sdxl_vae\.safetensors\t335 MB\t-\t/);
  });
});
