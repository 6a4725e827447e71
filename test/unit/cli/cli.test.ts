import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as convert from '../../../src/cli/commands/convert';
import * as validate from '../../../src/cli/commands/validate';
import type { CliIO } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';

const REPO = path.resolve(__dirname, '../../..');
const DATA = path.join(REPO, 'test/fixtures/comfyui');
const DEFAULT_GRAPH = path.join(DATA, 'default_graph.json');

function capture(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

async function cli(argv: string[]) {
  const io = capture();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('cli', function () {
  this.timeout(20_000);
  let dir: string;
  const file = (name: string, content: string | Uint8Array) => {
    const p = path.join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const defaultApi = () => JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/workflow/default_prompt_api.json'), 'utf8'));

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'marble-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('validates the default graph and the example PNGs (exit 0)', async () => {
    const r = await cli(['validate', DEFAULT_GRAPH]);
    assert.equal(r.code, 0);
    assert.match(r.out, /valid — 7 nodes, outputs 9 \(SaveImage\)/);
    const png = await cli(['validate', path.join(DATA, 'examples/sdxl_simple_example.png')]);
    assert.equal(png.code, 0, png.err);
  });

  it('exits 1 with node errors a person can act on', async () => {
    const api = defaultApi();
    api['3'].inputs.steps = 0;
    const r = await cli(['validate', file('bad.json', JSON.stringify(api))]);
    assert.equal(r.code, 1);
    assert.match(r.out, /node 3 \(KSampler\), needed by output 9:\n {4}value_smaller_than_min: Value 0 smaller than min of 1: steps/);
    const json = await cli(['validate', '--json', path.join(dir, 'bad.json')]);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.out).node_errors['3'].errors[0].type, 'value_smaller_than_min');
  });

  it('names unknown classes, cycles and dangling links', async () => {
    const unknown = defaultApi();
    unknown['10'] = { class_type: 'ImpactWildcard', inputs: {} };
    const u = await cli(['validate', file('unknown.json', JSON.stringify(unknown))]);
    assert.equal(u.code, 1);
    assert.match(u.out, /Cannot execute because node ImpactWildcard does not exist\. Node ID '#10'\n  node type ImpactWildcard is not installed in Marble/);

    const cyc = defaultApi();
    cyc['3'].inputs.latent_image = ['3', 0];
    const c = await cli(['validate', file('cycle.json', JSON.stringify(cyc))]);
    assert.equal(c.code, 1);
    assert.match(c.out, /dependency_cycle: Dependency cycle detected: latent_image: node 3 \(KSampler\) input "latent_image" depends on its own output through 3 → 3/);

    const graph = JSON.parse(readFileSync(DEFAULT_GRAPH, 'utf8'));
    graph.links = graph.links.filter((l: number[]) => l[0] !== 8);
    const d = await cli(['validate', file('dangling.json', JSON.stringify(graph))]);
    assert.equal(d.code, 1);
    assert.match(d.err, /warning: node 8 \(VAEDecode\) input "vae" refers to link 8, which is not in the links list/);
    assert.match(d.out, /required_input_missing: Required input is missing: vae/);
  });

  it('exits 2 with a specific message for unreadable, garbage, truncated and mistyped input', async () => {
    const missing = await cli(['validate', path.join(dir, 'nope.json')]);
    assert.deepEqual([missing.code, missing.err.trim()], [2, `marble validate: cannot read ${path.join(dir, 'nope.json')}: no such file`]);
    const garbage = new Uint8Array(10 * 1024 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 2654435761) >>> 24;
    const g = await cli(['validate', file('garbage.bin', garbage)]);
    assert.equal(g.code, 2);
    assert.match(g.err, /garbage\.bin is not valid JSON: /);
    assert.equal(g.err.split('\n').filter(Boolean).length, 1, 'one line, no stack trace');
    const t = await cli(['validate', file('trunc.json', readFileSync(DEFAULT_GRAPH, 'utf8').slice(0, 500))]);
    assert.equal(t.code, 2);
    assert.match(t.err, /trunc\.json is not valid JSON/);
    const w = await cli(['validate', file('types.json', JSON.stringify({ nodes: [{ id: 1, type: 'KSampler', widgets_values: 5 }], links: [] }))]);
    assert.equal(w.code, 2);
    assert.match(w.err, /types\.json: nodes\[0\]\.widgets_values: expected an array \(or an object keyed by widget name\), got number 5/);
    const e = await cli(['validate', file('empty.json', '')]);
    assert.match(e.err, /is not valid JSON: .*\(the file is empty\)/);
    const notWf = await cli(['convert', file('arr.json', '[1,2]'), '--to', 'api']);
    assert.equal(notWf.code, 2);
    assert.match(notWf.err, /expected a ComfyUI workflow/);
    const png = await cli(['validate', file('cut.png', readFileSync(path.join(DATA, 'examples/lora.png')).subarray(0, 3000))]);
    assert.equal(png.code, 2);
    assert.match(png.err, /truncated PNG/);
  });

  it('reports usage errors with exit 2', async () => {
    assert.equal((await cli([])).code, 2);
    const unknownCmd = await cli(['frobnicate']);
    assert.match(unknownCmd.err, /unknown command "frobnicate"/);
    const noTo = await cli(['convert', DEFAULT_GRAPH]);
    assert.equal(noTo.code, 2);
    assert.match(noTo.err, /--to must be "api" or "ui"/);
    const badFlag = await cli(['validate', DEFAULT_GRAPH, '--model', 'x']);
    assert.match(badFlag.err, /unknown option --model/);
    assert.equal((await cli(['validate', DEFAULT_GRAPH, '--models'])).code, 2);
  });

  it('checks model names against a --models folder, matching by base name', async () => {
    const models = path.join(dir, 'models');
    mkdirSync(path.join(models, 'checkpoints/v1-5-pruned-emaonly-fp16/unet'), { recursive: true });
    writeFileSync(path.join(models, 'checkpoints/v1-5-pruned-emaonly-fp16/unet/model.onnx'), '');
    assert.equal((await cli(['validate', DEFAULT_GRAPH, '--models', models])).code, 0);
    const lora = await cli(['validate', path.join(DATA, 'examples/lora.png'), '--models', models]);
    assert.equal(lora.code, 1);
    assert.match(lora.out, /ckpt_name: 'v1-5-pruned-emaonly.ckpt' not in \['v1-5-pruned-emaonly-fp16'\] \(no such model in checkpoints\)/);
    assert.match(lora.out, /lora_name: 'epiNoiseoffset_v2.safetensors' not in \[\] \(no such model in loras\)/);
    assert.match((await cli(['validate', DEFAULT_GRAPH, '--models', path.join(dir, 'nowhere')])).err, /--models .*nowhere: not a readable directory/);
  });

  it('converts UI → API (stdout) and API → UI (--out, atomically) through the command modules', async () => {
    const io = capture();
    assert.equal(await convert.run([DEFAULT_GRAPH, '--to', 'api'], io), 0);
    assert.deepEqual(JSON.parse(io.stdout), defaultApi());
    assert.ok(io.stdout.includes('"model": ["4", 0],'));
    const apiFile = file('default.api.json', io.stdout);
    const out = path.join(dir, 'back.workflow.json');
    const io2 = capture();
    assert.equal(await convert.run([apiFile, '--to', 'ui', '--out', out], io2), 0);
    assert.equal(io2.stdout, '');
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0);
    const io3 = capture();
    assert.equal(await convert.run([out, '--to', 'api'], io3), 0);
    assert.deepEqual(JSON.parse(io3.stdout), defaultApi());
    const io4 = capture();
    assert.equal(await validate.run([out], io4), 0);
  });

  it('takes the embedded prompt from a PNG for --to api and the workflow for --to ui', async () => {
    const png = path.join(DATA, 'examples/sdxlturbo_example.png');
    const api = await cli(['convert', png, '--to', 'api']);
    assert.equal(api.code, 0);
    assert.deepEqual(JSON.parse(api.out)['22'].inputs, { steps: 1, model: ['20', 0] });
    const ui = await cli(['convert', png, '--to', 'ui']);
    assert.equal(JSON.parse(ui.out).nodes.find((n: { id: number }) => n.id === 27).mode, 2);
  });

  it('runs as a real process: node --import tsx src/cli/main.ts validate <default graph>', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'validate', DEFAULT_GRAPH], { cwd: REPO, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /valid — 7 nodes/);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'convert', DEFAULT_GRAPH], { cwd: REPO, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.doesNotMatch(bad.stderr, /at .*\(.*:\d+:\d+\)/);
  });
});
