// One status bar item for the backend: idle / loading model / step x of y / failed. Clicking it
// shows the logs (where the child's progress and errors are), or interrupts while a run is busy.
import * as vscode from 'vscode';
import { describePhase, type BackendPhase } from './backendPhase';

export { describePhase };

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
