import assert from 'node:assert/strict';
import { detectEol, detectIndent, lineColumnAt, parseJsonText } from '../../../src/extension/workflowText';

describe('workflowText', () => {
  it('parseJsonText returns the value or a located error', () => {
    assert.deepEqual(parseJsonText('{"a": 1}'), { ok: true, value: { a: 1 } });
    const bad = parseJsonText('{\n  "a": 1,\n  oops\n}');
    assert.equal(bad.ok, false);
    if (!bad.ok) {
      assert.equal(bad.line, 3);
      assert.equal(bad.column, 3);
    }
    const truncated = parseJsonText('{\n  "a": ');
    assert.equal(truncated.ok, false);
    if (!truncated.ok) assert.equal(truncated.line, 2);
  });
  it('lineColumnAt is 1-based', () => {
    assert.deepEqual(lineColumnAt('ab\ncd', 4), { line: 2, column: 2 });
  });
  it('detectIndent finds tabs, spaces, or falls back', () => {
    assert.equal(detectIndent('{\n\t"a": 1\n}'), '\t');
    assert.equal(detectIndent('{\n    "a": 1\n}'), 4);
    assert.equal(detectIndent('{"a":1}', 2), 2);
  });
  it('detectEol', () => {
    assert.equal(detectEol('{\r\n}'), '\r\n');
    assert.equal(detectEol('{\n}'), '\n');
  });
});

describe('reindentJson', () => {
  it('turns 2-space indentation into tabs or 4 spaces, leaving values alone', async () => {
    const { reindentJson } = await import('../../../src/extension/workflowText');
    const text = '{\n  "a": {\n    "b": "  x  "\n  }\n}\n';
    assert.equal(reindentJson(text, '\t'), '{\n\t"a": {\n\t\t"b": "  x  "\n\t}\n}\n');
    assert.equal(reindentJson(text, 4), '{\n    "a": {\n        "b": "  x  "\n    }\n}\n');
    assert.equal(reindentJson(text, 2), text);
  });
});
