// One status bar item for the backend: idle / loading model / step x of y / failed. Clicking it
// shows the logs (where the child's progress and errors are), or interrupts while a run is busy.
import * as vscode from 'vscode';
import type { BackendPhase } from './backend';

/** The text, tooltip and click command for a phase (exported for the VS Code tests). */
export function describePhase(p: BackendPhase): { text: string; tooltip: string; command: string } {
  switch (p.kind) {
    case 'stopped': return { text: '$(circle-outline) Marble', tooltip: 'Marble: inference process not started', command: 'marble.showLogs' };
    case 'starting': return { text: '$(loading~spin) Marble: starting', tooltip: 'Marble: starting the inference process', command: 'marble.showLogs' };
    case 'idle': return { text: '$(circle-filled) Marble', tooltip: 'Marble: idle — click to show logs', command: 'marble.showLogs' };
    case 'loading': return { text: '$(loading~spin) Marble: loading model', tooltip: `Marble: loading a model (node ${p.node}) — click to interrupt`, command: 'marble.interrupt' };
    case 'running': {
      const what = p.step !== undefined && p.max !== undefined ? `step ${p.step} of ${p.max}` : (p.classType ?? `node ${p.node}`);
      return { text: `$(loading~spin) Marble: ${what}`, tooltip: `Marble: running ${p.classType ?? 'node'} ${p.node} — click to interrupt`, command: 'marble.interrupt' };
    }
    case 'failed': return { text: '$(error) Marble', tooltip: `Marble: ${p.message} — click to show logs`, command: 'marble.showLogs' };
  }
}

export class BackendStatusBar implements vscode.Disposable {
  private readonly _item = vscode.window.createStatusBarItem('marble.backend', vscode.StatusBarAlignment.Right, 100);
  private readonly _sub: vscode.Disposable;

  constructor(onDidChangePhase: vscode.Event<BackendPhase>, initial: BackendPhase) {
    this._item.name = 'Marble';
    this._render(initial);
    this._sub = onDidChangePhase((p) => this._render(p));
  }

  private _render(p: BackendPhase): void {
    const d = describePhase(p);
    this._item.text = d.text;
    this._item.tooltip = d.tooltip;
    this._item.command = d.command;
    this._item.backgroundColor = p.kind === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    // Hidden until Marble has done something, so it does not clutter windows that never use it.
    if (p.kind === 'stopped') this._item.hide();
    else this._item.show();
  }

  dispose(): void {
    this._sub.dispose();
    this._item.dispose();
  }
}
