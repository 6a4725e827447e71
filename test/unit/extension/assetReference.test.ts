import assert from 'node:assert/strict';
import {
  altTextFromPrompt, assetReferenceFor, assetReferenceSnippet, dirnameOf, referenceStyleFor, relativePath,
} from '../../../src/extension/assetReference';

describe('assetReference', () => {
  describe('referenceStyleFor', () => {
    it('maps markdown, markup/JSX frameworks, stylesheets and the rest', () => {
      assert.equal(referenceStyleFor('markdown'), 'markdown');
      for (const id of ['html', 'javascriptreact', 'typescriptreact', 'vue', 'svelte']) assert.equal(referenceStyleFor(id), 'html', id);
      for (const id of ['css', 'scss', 'less']) assert.equal(referenceStyleFor(id), 'css', id);
      for (const id of ['typescript', 'json', 'plaintext', 'python']) assert.equal(referenceStyleFor(id), 'path', id);
    });
  });

  describe('relativePath', () => {
    it('goes down into a sub folder', () => {
      assert.equal(relativePath('/ws/docs', '/ws/docs/assets/generated/a.png'), 'assets/generated/a.png');
    });
    it('goes up with .. segments', () => {
      assert.equal(relativePath('/ws/docs/guide', '/ws/assets/generated/a.png'), '../../assets/generated/a.png');
    });
    it('uses forward slashes for Windows paths and ignores drive-letter case', () => {
      assert.equal(relativePath('C:\\ws\\docs', 'c:\\ws\\assets\\a.png'), '../assets/a.png');
      assert.equal(relativePath('/c:/ws/docs', 'C:\\ws\\docs\\a.png'), 'a.png');
    });
    it('returns the absolute target on another drive', () => {
      assert.equal(relativePath('C:\\ws', 'D:\\img\\a.png'), 'd:/img/a.png');
    });
    it('does not confuse a folder with a longer sibling name', () => {
      assert.equal(relativePath('/ws/doc', '/ws/docs/a.png'), '../docs/a.png');
    });
    it('rejects relative inputs with a clear message', () => {
      assert.throws(() => relativePath('docs', '/ws/a.png'), /absolute paths/);
    });
  });

  it('dirnameOf strips the file name', () => {
    assert.equal(dirnameOf('/ws/docs/readme.md'), '/ws/docs');
    assert.equal(dirnameOf('/readme.md'), '/');
  });

  describe('assetReferenceSnippet', () => {
    it('markdown escapes brackets in alt and spaces/parentheses in the path', () => {
      assert.equal(
        assetReferenceSnippet('markdown', 'assets/my img (1).png', 'a [cat]'),
        '![a \\[cat\\]](assets/my%20img%20%281%29.png)',
      );
    });
    it('html/jsx use a self-closing img with escaped attributes', () => {
      assert.equal(
        assetReferenceSnippet('typescriptreact', '../a.png', 'say "hi" & <b>'),
        '<img src="../a.png" alt="say &quot;hi&quot; &amp; &lt;b&gt;" />',
      );
    });
    it('css uses url("…")', () => {
      assert.equal(assetReferenceSnippet('scss', 'img/a.png', 'ignored'), 'url("img/a.png")');
    });
    it('other languages get the bare relative path', () => {
      assert.equal(assetReferenceSnippet('typescript', 'img\\a.png', 'x'), 'img/a.png');
    });
  });

  it('assetReferenceFor makes the path relative to the document folder', () => {
    assert.equal(
      assetReferenceFor('markdown', '/ws/docs/readme.md', '/ws/assets/generated/cat_00001.png', 'a cat'),
      '![a cat](../assets/generated/cat_00001.png)',
    );
  });

  describe('altTextFromPrompt', () => {
    it('collapses whitespace', () => {
      assert.equal(altTextFromPrompt('  a\n cat\tin  space '), 'a cat in space');
    });
    it('cuts long prompts at a word boundary with an ellipsis', () => {
      const alt = altTextFromPrompt('word '.repeat(40), 30);
      assert.ok(alt.length <= 31, alt);
      assert.ok(alt.endsWith('word…'), alt);
    });
  });
});
