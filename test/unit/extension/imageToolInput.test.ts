import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { IMAGE_TOOL_SCHEMA, resolveToolTarget, toGenerationValues } from '../../../src/extension/imageToolInput';

const repoRoot = path.resolve(__dirname, '../../..');

describe('marble_generateImage tool input', () => {
  it('package.json declares the schema the code checks against', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    const tool = pkg.contributes.languageModelTools.find((t: { name: string }) => t.name === 'marble_generateImage');
    assert.deepEqual(tool.inputSchema, IMAGE_TOOL_SCHEMA);
    assert.ok(pkg.activationEvents.includes('onLanguageModelTool:marble_generateImage'));
  });

  it('maps the input to generation values and names what is wrong', () => {
    assert.deepEqual(toGenerationValues({ prompt: ' a red fox ', negativePrompt: 'blurry', width: 512, height: 768, seed: 42 }),
      { prompt: 'a red fox', negative: 'blurry', width: 512, height: 768, seed: 42 });
    assert.deepEqual(toGenerationValues({ prompt: 'x' }), { prompt: 'x' });
    assert.throws(() => toGenerationValues({ prompt: '  ' }), /prompt must be a non-empty string/);
    assert.throws(() => toGenerationValues({ prompt: 'x', width: 500 }), /width must be an integer from 64 to 2048 and a multiple of 8, got 500/);
    assert.throws(() => toGenerationValues({ prompt: 'x', seed: -1 }), /seed must be an integer from 0/);
    assert.throws(() => toGenerationValues(null), /must be an object/);
  });

  it('keeps the target inside the workspace folder; a .png path names the file', () => {
    const ws = path.resolve('/tmp/ws');
    assert.deepEqual(resolveToolTarget(ws, 'assets/img'), { folder: path.join(ws, 'assets/img') });
    assert.deepEqual(resolveToolTarget(ws, 'assets/hero.png'), { folder: path.join(ws, 'assets'), file: 'hero.png' });
    assert.deepEqual(resolveToolTarget(ws, path.join(ws, 'a.PNG')), { folder: ws, file: 'a.PNG' });
    assert.throws(() => resolveToolTarget(ws, '../outside.png'), /outside the workspace folder/);
    assert.throws(() => resolveToolTarget(ws, '/etc'), /outside the workspace folder/);
    assert.throws(() => resolveToolTarget(ws, 'logo.jpg'), /saves PNG images/);
    assert.throws(() => resolveToolTarget(ws, 'x/.hidden.png'), /must not start with a dot/);
  });
});
