import assert from 'node:assert/strict';
import { applyReplacement, minimalReplacement, withLineEndings } from '../../../src/extension/minimalEdit';

describe('minimalReplacement', () => {
  it('returns undefined for equal texts', () => {
    assert.equal(minimalReplacement('abc', 'abc'), undefined);
  });
  it('replaces only the changed middle', () => {
    const r = minimalReplacement('{"a": 1, "b": 2}', '{"a": 1, "b": 3}');
    assert.deepEqual(r, { start: 14, end: 15, text: '3' });
  });
  it('handles pure insertions and deletions', () => {
    assert.deepEqual(minimalReplacement('ac', 'abc'), { start: 1, end: 1, text: 'b' });
    assert.deepEqual(minimalReplacement('abc', 'ac'), { start: 1, end: 2, text: '' });
    assert.deepEqual(minimalReplacement('', 'x'), { start: 0, end: 0, text: 'x' });
  });
  it('does not let prefix and suffix overlap on repeated characters', () => {
    const r = minimalReplacement('aaa', 'aaaa')!;
    assert.equal(applyReplacement('aaa', r), 'aaaa');
    assert.equal(r.end - r.start, 0);
  });
  it('never splits a surrogate pair', () => {
    const oldText = 'x😀y';
    const newText = 'x😃y'; // same high surrogate, different low surrogate
    const r = minimalReplacement(oldText, newText)!;
    assert.equal(r.start, 1);
    assert.equal(r.end, 3);
    assert.equal(r.text, '😃');
  });
  it('round-trips random edits', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = 'ab{}":,\n 1';
    for (let i = 0; i < 300; i++) {
      const mk = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
      const a = mk(Math.floor(rnd() * 20));
      const b = mk(Math.floor(rnd() * 20));
      const r = minimalReplacement(a, b);
      assert.equal(r ? applyReplacement(a, r) : a, b);
    }
  });
});

describe('withLineEndings', () => {
  it('converts to CRLF and back without doubling', () => {
    assert.equal(withLineEndings('a\nb\r\nc', '\r\n'), 'a\r\nb\r\nc');
    assert.equal(withLineEndings('a\r\nb\nc', '\n'), 'a\nb\nc');
  });
});
