// How a generated image is referenced from the document it is inserted into. Pure (no vscode),
// so the per-language rules and the relative-path maths are unit-tested in plain Node.

/** The kind of snippet a language wants for an image reference. */
export type ReferenceStyle = 'markdown' | 'html' | 'css' | 'path';

const MARKDOWN = new Set(['markdown', 'mdx', 'quarto', 'rmd']);
const HTML = new Set([
  'html', 'xhtml', 'javascriptreact', 'typescriptreact', 'vue', 'vue-html', 'svelte', 'astro',
  'php', 'erb', 'handlebars', 'razor', 'django-html', 'jinja', 'nunjucks', 'liquid',
]);
const CSS = new Set(['css', 'scss', 'less', 'sass', 'stylus', 'postcss']);

/** The snippet style for a VS Code language id (unknown languages get the bare path). */
export function referenceStyleFor(languageId: string): ReferenceStyle {
  const id = languageId.toLowerCase();
  if (MARKDOWN.has(id)) return 'markdown';
  if (HTML.has(id)) return 'html';
  if (CSS.has(id)) return 'css';
  return 'path';
}

/** Normalises `\` to `/` and drops a trailing slash, so Windows and URI paths compare alike. */
function normalise(p: string): string {
  let s = p.replace(/\\/g, '/');
  // URI paths of Windows files look like `/c:/x`; fs paths like `C:/x`. Compare them as one.
  s = s.replace(/^\/?([a-zA-Z]):\//, (_m, d: string) => `/${d.toLowerCase()}:/`);
  if (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/**
 * The path of `targetPath` relative to the folder `fromDir`, with forward slashes.
 * Both must be absolute (fs paths or URI paths). Different drives → the absolute target path.
 */
export function relativePath(fromDir: string, targetPath: string): string {
  const from = normalise(fromDir);
  const to = normalise(targetPath);
  if (!from.startsWith('/') || !to.startsWith('/')) {
    throw new Error(`relativePath needs absolute paths, got "${fromDir}" and "${targetPath}"`);
  }
  const a = from.split('/').filter(Boolean);
  const b = to.split('/').filter(Boolean);
  const driveA = /^[a-z]:$/.test(a[0] ?? '') ? a[0] : undefined;
  const driveB = /^[a-z]:$/.test(b[0] ?? '') ? b[0] : undefined;
  if (driveA !== driveB) return to.replace(/^\/([a-z]:)/, '$1');
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  const ups = a.slice(common).map(() => '..');
  const rest = b.slice(common);
  const rel = [...ups, ...rest].join('/');
  return rel === '' ? '.' : rel;
}

/** The folder part of an absolute path (forward slashes). */
export function dirnameOf(p: string): string {
  const s = normalise(p);
  const i = s.lastIndexOf('/');
  return i <= 0 ? '/' : s.slice(0, i);
}

/** A one-line alt text from a prompt: whitespace collapsed, at most `max` characters. */
export function altTextFromPrompt(prompt: string, max = 80): string {
  const s = prompt.replace(/\s+/g, ' ').trim();
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const lastSpace = cut.lastIndexOf(' ');
  return (lastSpace > max / 2 ? cut.slice(0, lastSpace) : cut).trimEnd() + '…';
}

function escapeHtmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Markdown link destinations cannot hold spaces or unbalanced parentheses unescaped. */
function markdownDestination(p: string): string {
  return p.replace(/%/g, '%25').replace(/ /g, '%20').replace(/\(/g, '%28').replace(/\)/g, '%29');
}

function markdownAlt(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\[/g, '\\[').replace(/\]/g, '\\]');
}

/** The text to insert for an image at relative path `relPath` in a document of `languageId`. */
export function assetReferenceSnippet(languageId: string, relPath: string, alt: string): string {
  const path = relPath.replace(/\\/g, '/');
  switch (referenceStyleFor(languageId)) {
    case 'markdown':
      return `![${markdownAlt(alt)}](${markdownDestination(path)})`;
    case 'html':
      return `<img src="${escapeHtmlAttr(path)}" alt="${escapeHtmlAttr(alt)}" />`;
    case 'css':
      return `url("${path.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}")`;
    case 'path':
      return path;
  }
}

/**
 * The full reference for an image file inserted into a document: the path is made relative to
 * the document's folder. `documentPath` and `imagePath` are absolute (fs or URI paths).
 */
export function assetReferenceFor(
  languageId: string, documentPath: string, imagePath: string, alt: string,
): string {
  return assetReferenceSnippet(languageId, relativePath(dirnameOf(documentPath), imagePath), alt);
}
