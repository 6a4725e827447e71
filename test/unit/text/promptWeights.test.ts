import * as assert from 'node:assert/strict';
import { parsePromptWeights, parsePythonFloat } from '../../../src/inference/text/promptWeights';

describe('parsePromptWeights (ComfyUI token_weights)', () => {
  // Expected values are the examples in the docstring of token_weights in comfy/sd1_clip.py.
  const comfyExamples: Array<[string, Array<[string, number]>]> = [
    ['(foo)', [['foo', 1.1]]],
    ['(foo)(bar)', [['foo', 1.1], ['bar', 1.1]]],
    ['(foo:2.0)', [['foo', 2.0]]],
    ['((foo))', [['foo', 1.1 * 1.1]]],
    ['((foo):1.1)', [['foo', 1.1 * 1.1]]],
    ['((foo:1.1))', [['foo', 1.1]]],
    ['(foo:0.0)', [['foo', 0.0]]],
    ['((foo:1.0):0.0)', [['foo', 1.0]]],
    ['foo ((((lol (cat:666) attack:100)))) baz', [['foo ', 1.0], ['lol ', 100.0], ['cat', 666.0], [' attack', 100.0], [' baz', 1.0]]],
    ['foo ((((lol (cat:666) attack):100))) baz', [['foo ', 1.0], ['lol ', 100 * 1.1], ['cat', 666.0], [' attack', 100 * 1.1], [' baz', 1.0]]],
  ];
  for (const [prompt, expected] of comfyExamples) {
    it(`parses ${prompt}`, () => {
      assert.deepEqual(parsePromptWeights(prompt), expected);
    });
  }

  it('multiplies nested groups exactly like Python floats (1.1·1.1·1.1)', () => {
    assert.deepEqual(parsePromptWeights('(((x)))'), [['x', 1.1 * 1.1 * 1.1]]);
    assert.equal(parsePromptWeights('((x))')[0]![1], 1.2100000000000002);
  });

  it('keeps escaped parentheses as literal text at weight 1', () => {
    assert.deepEqual(parsePromptWeights('a \\(b\\) (c:1.5)'), [['a (b) ', 1.0], ['c', 1.5]]);
    assert.deepEqual(parsePromptWeights('(\\(x\\):2)'), [['(x)', 2]]);
  });

  it('leaves [word], BREAK and braces as plain text', () => {
    assert.deepEqual(parsePromptWeights('[cat] BREAK {a|b}'), [['[cat] BREAK {a|b}', 1.0]]);
  });

  it('keeps the colon as text when the weight is not a Python float', () => {
    assert.deepEqual(parsePromptWeights('(time: noon)'), [['time: noon', 1.1]]);
    assert.deepEqual(parsePromptWeights('(:1.5)'), [[':1.5', 1.1]]); // colon at index 0 is ignored
  });

  it('uses the last colon for the weight', () => {
    assert.deepEqual(parsePromptWeights('(ratio 16:9:1.3)'), [['ratio 16:9', 1.3]]);
  });

  it('treats unbalanced parentheses like ComfyUI (no error)', () => {
    assert.deepEqual(parsePromptWeights('a) b'), [['a) b', 1.0]]);
    assert.deepEqual(parsePromptWeights('(open'), [['(open', 1.0]]);
    assert.deepEqual(parsePromptWeights('x () y'), [['x ', 1.0], [' y', 1.0]]);
  });

  it('rejects an infinite or NaN weight with the offending group in the message', () => {
    assert.throws(() => parsePromptWeights('(cat:inf)'), /Prompt weight "\(cat:inf\)": Infinity is not a usable weight/);
    assert.throws(() => parsePromptWeights('(cat:nan)'), /NaN is not a usable weight/);
  });

  it('rejects a non-string prompt', () => {
    assert.throws(() => parsePromptWeights(42 as unknown as string), /expected the prompt as a string, got number/);
  });
});

describe('parsePythonFloat', () => {
  it('accepts the forms Python float() accepts', () => {
    assert.equal(parsePythonFloat(' 1.5 '), 1.5);
    assert.equal(parsePythonFloat('+.5'), 0.5);
    assert.equal(parsePythonFloat('2.'), 2);
    assert.equal(parsePythonFloat('1e-1'), 0.1);
    assert.equal(parsePythonFloat('1_0.2_5'), 10.25);
    assert.equal(parsePythonFloat('-0'), -0);
    assert.equal(parsePythonFloat('١.٥'), 1.5); // Arabic-Indic digits
    assert.equal(parsePythonFloat('１２'), 12); // full-width digits
    assert.equal(parsePythonFloat('-Infinity'), -Infinity);
  });

  it('rejects what Python float() rejects', () => {
    for (const s of ['', '.', '1_', '_1', '1__0', '0x10', '1.2.3', '1e', 'abc', '1,5']) {
      assert.equal(parsePythonFloat(s), null, s);
    }
  });
});
