// One graph editor webview showing one document, and the page-level helpers the provider uses.
// It knows which text its page already shows, so the provider's change events are not echoed back.
import * as vscode from 'vscode';
import type { ObjectInfo } from '../workflow/objectInfo';
import type { HostToGraph, ThemeKind } from '../protocol/webview';
import { parseJsonText } from './workflowText';

/** The page styles itself from VS Code's colours; the kind picks its light/dark fallbacks. */
export function themeKind(): ThemeKind {
  switch (vscode.window.activeColorTheme.kind) {
    case vscode.ColorThemeKind.Light: return 'light';
    case vscode.ColorThemeKind.HighContrast: return 'highContrast';
    case vscode.ColorThemeKind.HighContrastLight: return 'highContrastLight';
    default: return 'dark';
  }
}

/** A script-free page saying what failed, so the user never faces a blank tab. */
export function errorPage(message: string): string {
  const esc = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none';"></head><body><p>${esc}</p></body></html>`;
}

/** One webview showing one document. */
export class EditorSession {
  /** The text this webview already shows: a change event with this text is our own echo. */
  lastText: string | undefined;
  /**
   * Texts of this webview's edits not yet seen in a change event, oldest first. With several
   * edits in flight, an intermediate text must not be sent back: the page already shows a newer
   * state and would briefly revert to it.
   */
  readonly echoes: string[] = [];
  /** This webview's edits, applied one after another in the order the page sent them. */
  edits: Promise<void> = Promise.resolve();
  ready = false;
  /** The catalogue this page was initialised with (updated by comboValues). */
  objectInfo: ObjectInfo = {};
  tokenTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly document: vscode.TextDocument,
    readonly panel: vscode.WebviewPanel,
    private readonly _tap: (uri: vscode.Uri, m: HostToGraph) => void,
  ) {}

  post(message: HostToGraph): void {
    this._tap(this.document.uri, message);
    void this.panel.webview.postMessage(message);
  }

  /** Sends the document's text (or its parse error) unless the webview already shows it. */
  sync(force = false): void {
    if (!this.ready) return;
    const text = this.document.getText();
    const echo = this.echoes.indexOf(text);
    if (!force && echo >= 0) {
      this.echoes.splice(0, echo + 1);
      return;
    }
    if (!force && text === this.lastText) return;
    this.lastText = text;
    const parsed = parseJsonText(text);
    if (parsed.ok || text.trim() === '') this.post({ type: 'update', text });
    else this.post({ type: 'parseError', message: parsed.message, line: parsed.line, column: parsed.column });
  }
}
