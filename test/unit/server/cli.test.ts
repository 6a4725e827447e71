// `marble serve` as a command: options, the warning for a non-loopback listen address, the
// address it prints, answering, and a clean stop on SIGTERM (its inference child goes too).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { parseRunArgs } from '../../../src/cli/commands/run';
import { parseServeArgs } from '../../../src/cli/commands/serve';
import { inferenceEntry, makeWorkspace, removeBundle, repoRoot, type Workspace } from './harness';

describe('marble serve (command)', function () {
  this.timeout(120_000);
  let ws: Workspace;
  before(() => { ws = makeWorkspace(); });
  after(() => { ws?.remove(); removeBundle(); });

  it('parses its options and refuses bad ones', () => {
    const a = parseServeArgs(['--listen', '0.0.0.0', '--port=9000', '--models', 'm1', '--models', 'm2', '--output', 'o', '--input', 'i', '--temp', 't', '--preview-method', 'none', '--max-upload-size', '5', '--allow-host', 'box.lan', '--allow-origin', 'http://x:1']);
    assert.deepEqual(a, { listen: '0.0.0.0', port: 9000, models: ['m1', 'm2'], output: 'o', input: 'i', temp: 't', ep: 'auto', previews: false, maxUploadMb: 5, allowHosts: ['box.lan'], allowOrigins: ['http://x:1'] });
    assert.equal((parseServeArgs([]) as { listen: string }).listen, '127.0.0.1');
    assert.equal((parseServeArgs([]) as { port: number }).port, 8188);
    assert.throws(() => parseServeArgs(['--port', '70000']), /--port must be 0-65535/);
    assert.throws(() => parseServeArgs(['--preview-method', 'fast']), /--preview-method must be none, auto/);
    assert.throws(() => parseServeArgs(['--bogus']), /unknown option --bogus/);
    assert.throws(() => parseServeArgs(['--listen']), /--listen needs a value/);
    const r = parseRunArgs(['w.json', '--server', 'http://h:8188', '--auth', 'tok', '--header', 'X-Key: v']);
    assert.deepEqual([r !== 'help' && r.server, r !== 'help' && r.headers], ['http://h:8188', { Authorization: 'Bearer tok', 'X-Key': 'v' }]);
    assert.throws(() => parseRunArgs(['w.json', '--auth', 'tok']), /need --server/);
  });

  it('warns when listening beyond loopback, prints its address, answers, and stops on SIGTERM', async () => {
    const entry = await inferenceEntry();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'serve', '--listen', '0.0.0.0', '--port', '0',
      '--models', ws.models, '--output', ws.output, '--input', ws.input, '--temp', ws.temp, '--ep', 'cpu'], {
      cwd: repoRoot, env: { ...process.env, MARBLE_INFERENCE_ENTRY: entry }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      const check = () => {
        const m = /visit http:\/\/0\.0\.0\.0:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      };
      child.stdout.on('data', check);
      void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
    assert.match(err, /WARNING: listening on 0\.0\.0\.0 lets other machines on your network queue prompts/);
    const stats = await (await fetch(`http://127.0.0.1:${port}/system_stats`)).json();
    assert.match(stats.system.comfyui_version, /^marble-\d/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(err, /stopping/);
  });
});
