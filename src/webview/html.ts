// The HTML shell of both webviews. Pure (no vscode import) so the extension and the browser tests
// render the very same page: what the tests load under the CSP is what ships.

export type WebviewKind = 'graph' | 'panel';

export interface WebviewHtmlOptions {
  kind: WebviewKind;
  /** Webview URI of `dist/webview/<kind>.js`. */
  scriptUri: string;
  /**
   * Webview URIs of the stylesheets, in order. The first must be the bundle's own CSS
   * (`dist/webview/<kind>.css`): it carries the codicons font, so it gets the
   * `id="vscode-codicon-stylesheet"` that vscode-elements re-links inside its shadow roots.
   */
  styleUris: string[];
  /** `webview.cspSource`. */
  cspSource: string;
  /** Per-load random nonce (base64/hex, from a CSPRNG). */
  nonce: string;
  /** Shown in the tab/title; defaults per kind. */
  title?: string;
}

/** Files the extension must expose through `localResourceRoots` and `asWebviewUri`, relative to the extension root. */
export function webviewAssetPaths(kind: WebviewKind): { script: string; styles: string[]; roots: string[] } {
  return {
    script: `dist/webview/${kind}.js`,
    styles: [`dist/webview/${kind}.css`, `media/${kind}.css`],
    roots: ['dist/webview', 'media'],
  };
}

/**
 * The Content-Security-Policy: nothing by default; scripts only with the nonce; styles from the
 * extension or with the nonce (lit adopts its styles, which CSP does not govern); fonts only as
 * data: URIs (codicons are inlined into the bundle CSS); images from the extension (outputs under
 * localResourceRoots), data: (previews, litegraph's grid) and blob:.
 */
export function webviewCsp(cspSource: string, nonce: string): string {
  return [
    `default-src 'none'`,
    `img-src ${cspSource} data: blob:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src data:`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ') + ';';
}

const ATTR_ESCAPES: Record<string, string> = { '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;', "'": '&#39;' };
const escapeAttr = (s: string) => s.replace(/[&"<>']/g, (c) => ATTR_ESCAPES[c]);

const NONCE_RE = /^[A-Za-z0-9+/=_-]{16,}$/;

export function renderWebviewHtml(opts: WebviewHtmlOptions): string {
  if (opts.kind !== 'graph' && opts.kind !== 'panel') {
    throw new Error(`renderWebviewHtml: kind must be 'graph' or 'panel', got ${JSON.stringify(opts.kind)}`);
  }
  // A nonce that could break out of the CSP header value would defeat the whole policy.
  if (!NONCE_RE.test(opts.nonce)) {
    throw new Error('renderWebviewHtml: nonce must be at least 16 characters of [A-Za-z0-9+/=_-]');
  }
  // code-server and VS Code for the web hand out several expressions ("'self' https://*.vscode-cdn.net"):
  // accept a space-separated list, but nothing that could end the directive or add another.
  const sources = opts.cspSource.trim().split(/\s+/);
  if (opts.cspSource.trim().length === 0 || sources.some((s) => /[;,"]/.test(s) || (s.includes("'") && s !== "'self'"))) {
    throw new Error(`renderWebviewHtml: cspSource ${JSON.stringify(opts.cspSource)} is not a list of CSP source expressions`);
  }
  const nonce = escapeAttr(opts.nonce);
  const title = escapeAttr(opts.title ?? (opts.kind === 'graph' ? 'Marble Workflow' : 'Marble'));
  const styles = opts.styleUris
    .map((uri, i) => {
      const id = i === 0 ? ' id="vscode-codicon-stylesheet"' : '';
      return `  <link rel="stylesheet"${id} nonce="${nonce}" href="${escapeAttr(uri)}">`;
    })
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${escapeAttr(webviewCsp(opts.cspSource, opts.nonce))}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <title>${title}</title>
${styles}
</head>
<body class="marble-${opts.kind}">
  <div id="app" data-kind="${opts.kind}"></div>
  <script nonce="${nonce}" src="${escapeAttr(opts.scriptUri)}"></script>
</body>
</html>
`;
}
