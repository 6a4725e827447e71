// Malformed workflow files on `marble run` / `marble validate`: each gets a specific one-line
// message and exit code 2 (no stack trace, no hang), before any inference process starts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../../src/cli/main';
import { captureIO, cliRun, defaultPrompt, within } from './harness';

describe('robustness: malformed workflow files on the CLI', function () {
  this.timeout(150_000); // a hang bound, as HANG_MS below
  let dir: string;
  const file = (name: string, content: string | Uint8Array) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content);
    return p;
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-robust-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Hang bounds, not speed checks (speed is measured in bench/): a loaded CI machine is slow.
  const HANG_MS = 60_000;

  /** Runs both commands on `f`; both must exit 2 with `pattern` and no stack trace. */
  async function expectInputError(f: string, pattern: RegExp): Promise<void> {
    const r = await cliRun([f], HANG_MS);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at |unexpected error/, 'no stack trace');
    const io = captureIO();
    const code = await within(main(['validate', f], io), HANG_MS, 'marble validate');
    assert.equal(code, 2, io.stderr);
    assert.match(io.stderr, pattern);
  }

  it('truncated JSON: names the file and the parse error', async () => {
    const f = file('truncated.json', JSON.stringify(defaultPrompt()).slice(0, 200));
    await expectInputError(f, /^marble (run|validate): .*truncated\.json is not valid JSON: Unterminated string in JSON at position 200/m);
  });

  it('an empty file says it is empty', async () => {
    await expectInputError(file('empty.json', ''), /empty\.json is not valid JSON: .*\(the file is empty\)/);
  });

  it('a directory instead of a file', async () => {
    const d = path.join(dir, 'folder.json');
    fs.mkdirSync(d);
    await expectInputError(d, /folder\.json is a directory; give a \.json or \.png file/);
  });

  it('a missing file', async () => {
    await expectInputError(path.join(dir, 'nope.json'), /cannot read .*nope\.json: no such file/);
  });

  it('wrong types: a numeric class_type, an array of inputs, a JSON array, a string', async () => {
    await expectInputError(file('classnum.json', '{"3": {"class_type": 5, "inputs": {}}}'), /prompt\["3"\]\.class_type: expected the node class name \(a string\), got number 5/);
    await expectInputError(file('inputsarr.json', '{"3": {"class_type": "KSampler", "inputs": []}}'), /prompt\["3"\]\.inputs: expected an object, got an array of length 0/);
    await expectInputError(file('array.json', '[1, 2, 3]'), /expected a ComfyUI workflow \(an object with a "nodes" array\) or an API prompt .*got an array of length 3/);
    await expectInputError(file('string.json', '"hello"'), /got the string "hello"/);
  });

  it('10 MB of garbage fails at its first byte', async () => {
    // The parse error is at position 0: nothing past the first bad byte was worked on.
    await expectInputError(file('garbage.json', Buffer.alloc(10 * 2 ** 20, 'A')), /garbage\.json is not valid JSON: Unexpected token 'A', "AAAAAAAAAA"\.\.\. is not valid JSON/);
  });

  it('binary garbage is described, not echoed into the terminal', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 73 + 11) % 256));
    await expectInputError(file('binary.json', bytes), /binary\.json is not valid JSON: it holds binary data \(first bytes 0b 54 9d e6/);
    const r = await cliRun([path.join(dir, 'binary.json')], HANG_MS);
    assert.doesNotMatch(r.stderr, /[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]/, 'no control or replacement characters');
  });

  it('a PNG without ComfyUI chunks, and a truncated PNG', async () => {
    // 1×1 RGBA PNG with only IHDR, IDAT and IEND.
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a1b2a1d80000000049454e44ae426082', 'hex');
    await expectInputError(file('plain.png', png), /plain\.png has no ComfyUI workflow or prompt metadata/);
    await expectInputError(file('cut.png', png.subarray(0, 20)), /cut\.png: /);
  });
});
