// The marble.backends setting and server tokens (the pure half of the VS Code backend picker).
import assert from 'node:assert/strict';
import { normalizeServerUrl } from '../../../src/remote/comfyHttp';
import { authHeader, parseBackendsSetting } from '../../../src/remote/backendSettings';

describe('marble.backends setting', () => {
  it('keeps builtin and normalized server URLs once each, and reports what it cannot use', () => {
    const r = parseBackendsSetting(['builtin', 'http://127.0.0.1:8188/', 'http://127.0.0.1:8188/api', { url: 'https://gpu.lan:8443' }, 'ftp://x', 'not a url', 42, 'BUILTIN']);
    assert.deepEqual(r.entries, ['builtin', 'http://127.0.0.1:8188', 'https://gpu.lan:8443']);
    assert.equal(r.problems.length, 3);
    assert.match(r.problems[0], /must start with http/);
    assert.match(r.problems[1], /is not a URL/);
    assert.match(r.problems[2], /42 is neither "builtin" nor a server URL/);
    assert.deepEqual(parseBackendsSetting(undefined).entries, ['builtin'], 'nothing usable falls back to the built-in engine');
    assert.deepEqual(parseBackendsSetting(['http://a:1']).entries, ['http://a:1']);
  });

  it('turns a token into a bearer header, or keeps a whole "Name: value" header', () => {
    assert.deepEqual(authHeader(undefined), {});
    assert.deepEqual(authHeader(' abc123 '), { Authorization: 'Bearer abc123' });
    assert.deepEqual(authHeader('X-Api-Key: s3cret'), { 'X-Api-Key': 's3cret' });
    assert.equal(normalizeServerUrl('http://h:8188/api/'), 'http://h:8188');
    assert.throws(() => normalizeServerUrl('h:8188'), /must start with http/);
  });
});
