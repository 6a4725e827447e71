// Builds a webview's HTML and options for either Marble page. The page itself comes from the
// webview side's renderWebviewHtml, so the CSP the browser tests check is the one that ships.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { renderWebviewHtml, webviewAssetPaths, type WebviewKind } from '../webview/html';

/** A per-load nonce from a CSPRNG (Math.random would make the CSP guessable). */
export function createNonce(): string {
  return randomBytes(24).toString('base64');
}

/** Roots a page may load from: its bundles plus the folders generated images are shown from. */
export function webviewResourceRoots(extensionUri: vscode.Uri, kind: WebviewKind, imageRoots: vscode.Uri[]): vscode.Uri[] {
  return [...webviewAssetPaths(kind).roots.map((r) => vscode.Uri.joinPath(extensionUri, r)), ...imageRoots];
}

export function webviewOptions(extensionUri: vscode.Uri, kind: WebviewKind, imageRoots: vscode.Uri[]): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: webviewResourceRoots(extensionUri, kind, imageRoots) };
}

/** The page HTML with a fresh nonce; stylesheets that are not built are left out (no 404 noise). */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, kind: WebviewKind): string {
  const assets = webviewAssetPaths(kind);
  const asUri = (rel: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, rel)).toString();
  const styles = assets.styles.filter((rel, i) => i === 0 || existsSync(vscode.Uri.joinPath(extensionUri, rel).fsPath));
  return renderWebviewHtml({
    kind,
    scriptUri: asUri(assets.script),
    styleUris: styles.map(asUri),
    cspSource: webview.cspSource,
    nonce: createNonce(),
  });
}
