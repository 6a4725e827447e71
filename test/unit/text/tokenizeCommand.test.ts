import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../../src/cli/commands/tokenize';
import { writeSafetensors } from '../../../src/inference/safetensors/write';

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    const code = await run(argv);
    return { code, out, err };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
}

describe('marble tokenize', () => {
  it('prints chunks with id, token and weight, and the token count', async () => {
    const { code, out } = await capture(['a (cat:1.5)']);
    assert.equal(code, 0);
    const json = JSON.parse(out);
    assert.equal(json.token_count, 2);
    assert.equal(json.chunks.length, 1);
    assert.equal(json.chunks[0].length, 77);
    assert.deepEqual(json.chunks[0].slice(0, 4), [
      { id: 49406, token: '<|startoftext|>', weight: 1 },
      { id: 320, token: 'a</w>', weight: 1 },
      { id: 2368, token: 'cat</w>', weight: 1.5 },
      { id: 49407, token: '<|endoftext|>', weight: 1 },
    ]);
  });

  it('honours --pad-id 0', async () => {
    const { out } = await capture(['--pad-id', '0', 'cat']);
    assert.deepEqual(JSON.parse(out).chunks[0][3], { id: 0, token: '!', weight: 1 });
  });

  it('returns 2 with usage text for bad arguments', async () => {
    const r = await capture(['--pad-id', 'x', 'cat']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--pad-id expects a token id/);
    assert.match(r.err, /Usage: marble tokenize/);
    assert.equal((await capture([])).code, 2);
  });

  it('places embeddings from --models <dir>/embeddings and reports the missing ones', async () => {
    const models = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-tok-models-'));
    try {
      fs.mkdirSync(path.join(models, 'embeddings'));
      await writeSafetensors(path.join(models, 'embeddings', 'two.safetensors'), [{ name: 'emb_params', dtype: 'F32', shape: [2, 768], data: new Uint8Array(2 * 768 * 4) }]);
      const { code, out } = await capture(['--models', models, '(embedding:two:1.2) cat embedding:gone']);
      assert.equal(code, 0);
      const json = JSON.parse(out);
      assert.deepEqual(json.chunks[0].slice(1, 4), [
        { id: -1, token: 'embedding:two[0]', weight: 1.2 },
        { id: -1, token: 'embedding:two[1]', weight: 1.2 },
        { id: 2368, token: 'cat</w>', weight: 1 },
      ]);
      assert.equal(json.token_count, 3);
      assert.deepEqual(json.embeddings, ['two']);
      assert.deepEqual(json.missing_embeddings, ['gone']);
      const wide = await capture(['--models', models, '--width', '1280', 'embedding:two']);
      assert.equal(wide.code, 1);
      assert.match(wide.err, /two\.safetensors: tensor 'emb_params' \[2, 768\] has vectors 768 wide; this text encoder takes 1280-wide vectors/);
    } finally {
      fs.rmSync(models, { recursive: true, force: true });
    }
  });

  it('returns 1 and names the file when the tokenizer folder is missing', async () => {
    const r = await capture(['--tokenizer', '/nonexistent/tok', 'cat']);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot read \/nonexistent\/tok\/vocab\.json/);
  });
});
